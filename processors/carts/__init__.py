"""The cart processor: prepares carts (selects their files, makes sure they are in the S3
cache) and purges old ones. The API streams a ready cart's tar from the cache."""
