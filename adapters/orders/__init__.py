"""The legacy order-management database (ORDERS): orders and shipments, read as SQL.

Generic over the legacy schema: the table or view names, which column holds which canonical
field, the status codes, the date and amount formats and how a row names its customer are
all the section's settings (``settings.py``); no code is written per legacy schema.
"""
