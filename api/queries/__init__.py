"""The API's own read-only queries, one module per noun (holdings, transactions, carts).
The ones the processes share with it (access, filters, files) are in
``projections.queries``."""
