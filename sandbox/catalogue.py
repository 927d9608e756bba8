"""Fixed vocabulary the dataset is drawn from: prices, names, places, ticket texts.

Kept small and built in (no faker): the sandbox needs plausible, deterministic values, not
realistic distributions.
"""

from __future__ import annotations

from sandbox.records import Price

PRICES: dict[str, Price] = {
    price.id: price
    for price in (
        Price("price_basic_monthly_gbp", "Basic", 500, "gbp", "month"),
        Price("price_pro_monthly_gbp", "Pro", 1500, "gbp", "month"),
        Price("price_team_monthly_gbp", "Team", 4500, "gbp", "month"),
        Price("price_pro_yearly_gbp", "Pro (annual)", 15000, "gbp", "year"),
        Price("price_basic_monthly_usd", "Basic", 600, "usd", "month"),
        Price("price_pro_monthly_usd", "Pro", 1900, "usd", "month"),
        Price("price_team_monthly_usd", "Team", 4500, "usd", "month"),
        Price("price_pro_yearly_usd", "Pro (annual)", 19000, "usd", "year"),
    )
}

FIRST_NAMES = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Freya", "Lily", "Emily", "Sophia", "Grace",
    "Ella", "Evie", "Charlotte", "Poppy", "Harper", "Chloe", "Maya", "Zara", "Priya", "Aisha",
    "Noah", "Oliver", "George", "Arthur", "Leo", "Harry", "Oscar", "Jack", "Theo", "Henry",
    "Charlie", "Freddie", "Alfie", "Thomas", "James", "William", "Mohammed", "Ethan", "Lucas",
    "Mason", "Liam", "Elijah", "Benjamin", "Daniel", "Samuel", "David", "Joseph", "Wei", "Hiro",
    "Sofia", "Camila", "Valentina", "Lucia", "Nadia", "Fatima", "Ingrid", "Kofi", "Amara",
    "Siobhan", "Niamh", "Rhys", "Dylan", "Megan", "Carys", "Tomasz", "Anika", "Ravi", "Mei",
)  # fmt: skip

LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Khan", "Lewis", "Harris", "Martin", "Cooper", "King", "Lee",
    "Garcia", "Martinez", "Rodriguez", "Hernandez", "Lopez", "Gonzalez", "Miller", "Davis",
    "Anderson", "Thomas", "Moore", "Nguyen", "Kim", "Chen", "Singh", "Okafor", "Mensah",
    "O'Brien", "McCarthy", "Murphy", "Kowalski", "Novak", "Schmidt", "Rossi", "Dubois",
    "Haddad", "Hughes", "Edwards", "Price", "Bennett", "Ward", "Turner", "Parker", "Reid",
)  # fmt: skip

EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "inbox.example")

#: (city, postcode prefix); UK addresses have no state.
UK_CITIES = (
    ("London", "SW1A"), ("Manchester", "M1"), ("Birmingham", "B1"), ("Leeds", "LS1"),
    ("Glasgow", "G1"), ("Bristol", "BS1"), ("Edinburgh", "EH1"), ("Cardiff", "CF10"),
    ("Liverpool", "L1"), ("Newcastle upon Tyne", "NE1"), ("Belfast", "BT1"), ("York", "YO1"),
)  # fmt: skip

#: (city, state, zip, area code)
US_CITIES = (
    ("San Francisco", "CA", "94105", "415"), ("New York", "NY", "10001", "212"),
    ("Chicago", "IL", "60601", "312"), ("Austin", "TX", "78701", "512"),
    ("Seattle", "WA", "98101", "206"), ("Boston", "MA", "02108", "617"),
    ("Denver", "CO", "80202", "303"), ("Atlanta", "GA", "30303", "404"),
    ("Miami", "FL", "33130", "305"), ("Portland", "OR", "97201", "503"),
    ("Phoenix", "AZ", "85004", "602"), ("Minneapolis", "MN", "55401", "612"),
)  # fmt: skip

STREETS = (
    "High Street", "Station Road", "Church Lane", "Park Avenue", "Main Street", "Mill Lane",
    "Victoria Road", "Oak Street", "Maple Drive", "Elm Street", "King Street", "Queen Street",
    "Market Place", "Bridge Street", "Cedar Court", "Harbour View", "Lake Road", "Hill Street",
)  # fmt: skip

TICKET_SUBJECTS = (
    "Charged twice this month",
    "Cannot log in to my account",
    "How do I change my plan?",
    "Refund request",
    "Card declined at checkout",
    "Invoice shows the wrong address",
    "Cancel my subscription",
    "App crashes on start",
    "Where is my receipt?",
    "Update my phone number",
    "Password reset email never arrives",
    "Question about VAT on invoices",
    "Upgrade to the Team plan",
    "Export my data",
    "Service outage this morning",
)

TICKET_DESCRIPTIONS = (
    "Hello, could you please look into this for me? Thanks.",
    "This has happened several times now and I would like it fixed.",
    "I called earlier and was told to raise a ticket.",
    "Please call me back when you have an update.",
    "Screenshot attached. The problem started after the last update.",
    "I am not sure whether this is a billing or a technical question.",
)

IVR_INTENTS = ("BILLING_ENQUIRY", "TECHNICAL_SUPPORT", "CANCEL", "CHANGE_DETAILS", "SALES")
IVR_QUEUES = {
    "BILLING_ENQUIRY": "Billing",
    "TECHNICAL_SUPPORT": "Support",
    "CANCEL": "Retention",
    "CHANGE_DETAILS": "Support",
    "SALES": "Sales",
}
