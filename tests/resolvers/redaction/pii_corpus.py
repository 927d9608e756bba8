"""Personal data as people write it into tickets, and innocent text that must survive.

``PERSONAL``: each text, and what of it must not survive redaction (digits are compared with
every separator removed, so a number that survives split differently is still caught).
``INNOCENT``: texts that hold no personal data and must come out exactly as they went in.
"""

from __future__ import annotations

#: (text, the personal parts of it)
PERSONAL: list[tuple[str, tuple[str, ...]]] = [
    # phones, however split
    ("call me on +44 20 7946 0018 please", ("442079460018",)),
    ("call me on 020,7946,0018", ("02079460018",)),
    ("phone 07700_900_123 any time", ("07700900123",)),
    ("my number is 0 7 7 0 0    9 0 0 1 2 3", ("07700900123",)),
    ("ring 0770-0900-123 after six", ("07700900123",)),
    ("mobile: (0)7700 900.123", ("7700900123",)),
    ("+1 (555) 010-0199 is my cell", ("15550100199",)),
    ("tel 07700/900/123", ("07700900123",)),
    ("call zero seven seven zero zero nine double zero one two three", ("zero seven seven",)),
    ("number is oh two oh, seven nine four six, oh oh one eight", ("seven nine four six",)),
    ("my phone: 0 7 7 0 0 - 9 0 0 - 1 2 3 thanks", ("07700900123",)),
    ("ref 07700 900123 is my number", ("07700900123",)),
    # cards, however split (the Luhn check knows them)
    ("Charged twice on 4111 1111 1111 1111", ("4111111111111111",)),
    ("card 4111-1111_1111.1111 declined", ("4111111111111111",)),
    ("card 4111*1111*1111*1111 declined", ("4111111111111111",)),
    ("card 4111 / 1111 / 1111 / 1111", ("4111111111111111",)),
    ("amex 3782,822463,10005 was refused", ("378282246310005",)),
    ("ticket #4111111111111111 is my card", ("4111111111111111",)),
    ("card no. 5555555555554444", ("5555555555554444",)),
    # emails, plain, spaced and spelled out
    ("reply to ada.lovelace@example.com", ("ada.lovelace",)),
    ("write to ada dot lovelace at example dot com", ("lovelace",)),
    ("write to ada.lovelace (at) example (dot) com", ("lovelace",)),
    ("write to ada.lovelace [at] example [dot] co [dot] uk", ("lovelace",)),
    ("write to ada.lovelace @ example.com", ("lovelace",)),
    ("email: grace_hopper AT navy DOT mil", ("grace_hopper", "hopper")),
    # street addresses and postcodes
    ("I live at 12 Acacia Avenue, London SW1A 2AA", ("Acacia", "SW1A", "2AA")),
    ("Flat 3, 10 Downing Street, sw1a2aa", ("Downing", "sw1a2aa")),
    ("Send it to 742 Evergreen Terrace, Springfield, IL 62704", ("Evergreen", "62704")),
    ("deliver to 221b Baker St, NW1 6XE", ("Baker", "NW1", "6XE")),
    ("new address: 4 Privet Drive, Little Whinging, SURREY GU1_4AB", ("Privet", "4AB")),
    # other long numbers: account numbers, sort codes with account
    ("account 12345678 sort code 20-00-00", ("12345678",)),
    ("IBAN GB29 NWBK 6016 1331 9268 19", ("60161331926819",)),
]

#: Texts with no personal data: ticket numbers, dates, times, amounts, short numbers.
INNOCENT: list[str] = [
    "Invoice 42 of 2024 is wrong",
    "Refund of £1,234.56 requested on 2024-03-15",
    "Ticket #123456 reopened",
    "INC-0012345 follow-up at 10:30",
    "Order 98765432 delayed until 15/03/2024",
    "Charged 12.50 twice, invoice 42 of 2024",
    "Paid 1,250.00 GBP on 03/04/2024",
    "Case number 7654321 escalated",
    "Booking ref: 55512345 moved to 2024-12-01T09:00",
    "Plan went from $49.99 to $59.99 on 1.2.2025",
    "Booked for 14:30 on 21-06-2024",
    "I called 3 times this way and waited 45 minutes",
    "Look at example.com for help",
    "The app crashes on iOS 17.4.1 when I open page 3",
    "Billed EUR 1,000 instead of 100 euros",
    "Upgrade to the 5G plan please",
]
