"""Check digits of the identifiers popcare reads and the generator writes (one implementation).

- NPI: 10 digits; the last is a Luhn check digit over the prefix 80840 followed by the first nine
  (CMS NPI check-digit rule).
- LOINC: ``NNNNN-C``; C is the mod-10 (Luhn) check digit of the part before the dash (LOINC users'
  guide). Doubling each digit and summing the digits of the products equals LOINC's "double the
  odd-positioned digits as one number" form, because a doubled digit never carries.
"""


def luhn_check_digit(payload: str) -> int:
    """The Luhn check digit to append to a digit string."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # the rightmost payload digit is doubled (the check digit goes after it)
            d = d * 2 - (9 if d >= 5 else 0)
        total += d
    return (10 - total % 10) % 10


def npi_check_digit(first9: str) -> int:
    return luhn_check_digit("80840" + first9)


def npi_is_valid(npi: str) -> bool:
    return len(npi) == 10 and npi.isdigit() and npi_check_digit(npi[:9]) == int(npi[9])


def loinc_check_digit(body: str) -> int:
    return luhn_check_digit(body)


def loinc_is_valid(code: str) -> bool:
    body, _, check = code.partition("-")
    return (
        body.isdigit()
        and check.isdigit()
        and len(check) == 1
        and loinc_check_digit(body) == int(check)
    )
