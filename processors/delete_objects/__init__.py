"""The object deleter: removes deleted files' objects from the S3 cache."""
