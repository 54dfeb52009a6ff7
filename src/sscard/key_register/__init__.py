"""Key management records (social security card management measures, arts. 20-26): certified devices
(KEY-4), key carriers (KEY-5), third-party handovers (KEY-7), PSAM cards (KEY-8), emergency plans and
security incidents (KEY-9), and the reports an auditor checks them with."""
