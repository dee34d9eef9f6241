"""A minimal faust worker used by the tests: decodes events from one topic and
re-encodes them onto another, proving faust-streaming works against the stack's Kafka."""

from __future__ import annotations

import os

from events.codec import decode_message, encode
from nearline.settings import Settings
from processors.app import make_app

app = make_app(os.environ["ECHO_GROUP"], Settings())
source = app.topic(os.environ["ECHO_SOURCE"])
sink = app.topic(os.environ["ECHO_SINK"])


@app.agent(source, concurrency=1)
async def echo(stream):  # type: ignore[no-untyped-def]
    async for message in stream.events():
        event = decode_message(
            message.value,
            topic=message.message.topic,
            partition=message.message.partition,
            offset=message.message.offset,
        )
        await sink.send(key=message.key, value=encode(event))


if __name__ == "__main__":
    app.main()
