"""``python -m admin.deploy init`` prepares a deployment, and may run again."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from sqlalchemy import inspect

from projections.db import make_engine
from stack import s3
from tests.integration.ops.conftest import REPO


def test_init_creates_the_bucket_and_the_catalog_tables_and_can_run_again(settings, tmp_path):
    bucket = f"nearline-init-{uuid.uuid4().hex[:8]}"
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    env = os.environ | {"NEARLINE_S3__BUCKET": bucket, "NEARLINE_CATALOG__URL": catalog}
    client = s3.client(settings)
    try:
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-m", "admin.deploy", "init"],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr[-2000:]
        assert bucket in {b["Name"] for b in client.list_buckets()["Buckets"]}
        engine = make_engine(catalog)
        assert {"files", "holdings", "locations", "status_transactions"} <= set(
            inspect(engine).get_table_names()
        )
        engine.dispose()
    finally:
        client.delete_bucket(Bucket=bucket)
