"""A self-hosted image captcha (QPW-5): no third-party service sees who asks to recover a password."""
