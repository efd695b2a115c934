"""Date and time formats of the admin (LANGUAGE_CODE en-us): ISO dates, 24-hour times with
seconds, and datetimes with their zone (UTC, the business time zone): "2025-01-27 00:05:03 UTC".
What forms accept is unchanged (Django's en input formats start with the ISO ones).
"""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
YEAR_MONTH_FORMAT = "Y-m"
MONTH_DAY_FORMAT = "m-d"
FIRST_DAY_OF_WEEK = 1  # Monday
