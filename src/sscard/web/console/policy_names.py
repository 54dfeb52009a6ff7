"""The policy settings' names as the console shows them (translated through the message catalogue);
the key itself is shown beside each in small print, as the API and ``sscard policy`` spell it."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - gettext's marker: extracted by `make messages`, translated at rendering
    return message


SETTING_NAMES: dict[str, str] = {
    "initial_pin_rule": N_("Initial card PIN rule"),
    "pin_lockout_threshold": N_("Wrong PIN entries before the card PIN locks"),
    "pin_reset_mode": N_("How a locked card PIN is reset"),
    "pin_change_campaigns": N_("PIN change campaigns"),
    "pin_at_activation": N_("Holder sets the PIN at activation"),
    "query_password_rule": N_("Initial query password rule"),
    "initial_query_password_valid_days": N_("Days an unchanged initial query password stays valid"),
    "initial_query_password_expiry_from": N_("Initial query passwords expire counting from"),
    "password_min_length": N_("Shortest query password"),
    "password_max_length": N_("Longest query password"),
    "password_hash_memory_kib": N_("Password hashing memory (KiB)"),
    "password_hash_time_cost": N_("Password hashing passes"),
    "password_hash_parallelism": N_("Password hashing parallelism"),
    "login_free_failures": N_("Failed sign-ins before waits, per account"),
    "login_wait_base_seconds": N_("First wait after failed sign-ins (seconds)"),
    "login_wait_max_seconds": N_("Longest wait after failed sign-ins (seconds)"),
    "login_hard_lock_failures": N_("Failed sign-ins that lock the account"),
    "source_free_failures": N_("Failed sign-ins before waits, per source address"),
    "source_wait_base_seconds": N_("First wait of a source address (seconds)"),
    "source_wait_max_seconds": N_("Longest wait of a source address (seconds)"),
    "source_window_seconds": N_("Window counting a source address's failures (seconds)"),
    "login_captcha_after_failures": N_("Failed sign-ins before a captcha is asked"),
    "temporary_password_minutes": N_("Temporary password validity (minutes)"),
    "forgot_password_min_interval_seconds": N_("Least time between password recovery requests (seconds)"),
    "loss_report_expiry_days": N_("Temporary loss report validity (days)"),
    "debit_notify_threshold_fen": N_("Debit account notification threshold (fen)"),
    "average_monthly_wage_fen": N_("Average monthly wage of the region (fen)"),
    "contribution_base_floor_pct": N_("Contribution base floor (percent of the average wage)"),
    "contribution_base_ceiling_pct": N_("Contribution base ceiling (percent of the average wage)"),
    "pension_employer_bp": N_("Pension insurance, employer rate (bp)"),
    "pension_individual_bp": N_("Pension insurance, individual rate (bp)"),
    "pension_account_bp": N_("Pension insurance, part into the personal account (bp)"),
    "medical_employer_bp": N_("Medical insurance, employer rate (bp)"),
    "medical_individual_bp": N_("Medical insurance, individual rate (bp)"),
    "medical_account_bp": N_("Medical insurance, part into the personal account (bp)"),
    "unemployment_employer_bp": N_("Unemployment insurance, employer rate (bp)"),
    "unemployment_individual_bp": N_("Unemployment insurance, individual rate (bp)"),
    "work_injury_class_bp": N_("Work injury insurance rates by risk class (bp)"),
    "work_injury_default_class": N_("Default work injury risk class"),
    "maternity_employer_bp": N_("Maternity insurance, employer rate (bp)"),
    "flexible_pension_bp": N_("Pension insurance, flexible workers' rate (bp)"),
    "flexible_medical_bp": N_("Medical insurance, flexible workers' rate (bp)"),
    "interest_rate_bp_by_year": N_("Personal account interest rate by year (bp)"),
}


def setting_name(key: str) -> str:
    """The English name of a setting (the message id to translate); the key itself for one without a name."""
    return SETTING_NAMES.get(key, key)
