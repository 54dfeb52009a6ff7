"""The one published password of every demo staff account (printed by `sscard demo load`, shown on the
landing page in dev mode and in the README). Staff accounts refuse it in production; demo data is
refused when SSCARD_ENV=prod. Here, in staff, because staff refuses it and demo uses it."""

DEMO_STAFF_PASSWORD = "sscard-demo-2024"  # noqa: S105 - a published demo credential, dev only
