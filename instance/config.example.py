# Copy to instance/config.py for local settings; it is git-ignored.
# Environment variables named PORTAL_<SETTING> override anything set here.

# A long random string: python -c "import secrets; print(secrets.token_hex(32))"
# SECRET_KEY = "..."

# DATABASE_URL = "postgresql://portal@127.0.0.1:5432/portal"
# REDIS_URL = "redis://127.0.0.1:6379/0"
# SMTP_HOST = "smtp.example.org"
# MAIL_FROM = "Co-Production Portal <portal@example.org>"
