"""The legacy order-management database: the sandbox's fifth system, a database not an API.

``data.py`` draws its rows from the same people as the other systems (the named customers'
orders are fixed; generated people with a UK phone get some; orphans match no one), with the
habits of a legacy system: upper-case abbreviated names, status codes, amounts as text with
currency symbols, dates as ``DD/MM/YYYY`` text, customers named by a phone in local format
or an old account number. ``postgres.py`` creates it as a database of its own on a
PostgreSQL server, read through a role that may only SELECT its views; ``sqlite.py`` writes
the same orders to a SQLite file with another naming scheme and other formats.
"""
