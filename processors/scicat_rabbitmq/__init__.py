"""Jobs from SciCat's rabbitmq job action (docs/scicat.md)."""
