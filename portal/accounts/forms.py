"""Forms for signing up, signing in, the profile and passwords."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, Field, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal.accounts.models import ContactMethod
from portal.core.forms import choices


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


EMAIL_REQUIRED = InputRequired(message="Enter your email address.")


class ValidEmail:
    """Email syntax check; outside production it accepts the reserved .test domain (demo data)."""

    message = "Enter an email address in the right format, like name@example.com."

    def __call__(self, form: object, field: Field) -> None:
        try:
            validate_email(
                field.data or "",
                check_deliverability=False,
                test_environment=current_app.config["ENV"] != "production",
            )
        except EmailNotValidError:
            raise ValidationError(self.message) from None


EMAIL_VALID = ValidEmail()


class SignUpForm(FlaskForm):
    name = StringField(
        "Your name",
        validators=[InputRequired(message="Enter your name."), Length(max=120)],
        description="The name you would like people in the programme to see.",
    )
    email = EmailField("Email address", filters=[strip], validators=[EMAIL_REQUIRED, EMAIL_VALID, Length(max=254)])
    password = PasswordField(
        "Create a password",
        validators=[InputRequired(message="Enter a password.")],
        description="At least 10 characters. Three or four random words together work well.",
    )


class SignInForm(FlaskForm):
    email = EmailField("Email address", filters=[strip], validators=[EMAIL_REQUIRED, Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired(message="Enter your password.")])
    remember = BooleanField("Keep me signed in on this device for 30 days")


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(message="Enter your name."), Length(max=120)])
    pronouns = StringField(
        "Pronouns (optional)",
        validators=[Optional(), Length(max=40)],
        description="For example she/her, he/him, they/them.",
    )
    bio = TextAreaField(
        "About you (optional)",
        validators=[Optional(), Length(max=600, message="Keep this to 600 characters or fewer.")],
        description="A few sentences other members will see. Up to 600 characters.",
    )
    preferred_contact = SelectField(
        "How would you like us to contact you?",
        choices=choices([(m.value, m.label) for m in ContactMethod]),
    )
    phone = StringField(
        "Phone number (optional)",
        validators=[Optional(), Length(max=40)],
        description="Only the programme team can see this.",
    )
    contact_notes = StringField(
        "Anything else about contacting you (optional)",
        validators=[Optional(), Length(max=300)],
        description="For example the best times to call, or a language you prefer.",
    )
    access_needs = TextAreaField(
        "Access needs (optional)",
        validators=[Optional(), Length(max=4000)],
        description=(
            "Anything that helps you take part: large print, a quiet room, a support worker, "
            "breaks, captions. Only you and the programme team can see this."
        ),
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[InputRequired(message="Enter your current password.")]
    )
    new_password = PasswordField(
        "New password",
        validators=[InputRequired(message="Enter a new password.")],
        description="At least 10 characters. Changing it signs you out on your other devices.",
    )


class CloseAccountForm(FlaskForm):
    password = PasswordField(
        "Your password",
        validators=[InputRequired(message="Enter your password to close your account.")],
        description="So we know it is you closing it.",
    )


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email address", filters=[strip], validators=[EMAIL_REQUIRED, EMAIL_VALID, Length(max=254)])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(
        "New password",
        validators=[InputRequired(message="Enter a new password.")],
        description="At least 10 characters. Three or four random words together work well.",
    )


class ChangeEmailForm(FlaskForm):
    email = EmailField(
        "New email address",
        filters=[strip],
        validators=[InputRequired(message="Enter your new email address."), EMAIL_VALID, Length(max=254)],
        description="We send a link to this address. Your account keeps its current address until you open it.",
    )
    password = PasswordField("Your password", validators=[InputRequired(message="Enter your password.")])


class ButtonForm(FlaskForm):
    """A form that is only a button (and its CSRF token)."""


class TwoFactorCodeForm(FlaskForm):
    """The second step of signing in: a code from the app, or a recovery code."""

    code = StringField(
        "Code",
        filters=[strip],
        validators=[InputRequired(message="Enter the 6-digit code from your authenticator app, or a recovery code.")],
        description="The 6-digit code your authenticator app shows now, or one of your recovery codes.",
    )


class TwoFactorSetUpForm(FlaskForm):
    code = StringField(
        "Code from your app",
        filters=[strip],
        validators=[InputRequired(message="Enter the 6-digit code your authenticator app shows, like 123456.")],
        description="After adding the key, your app shows a 6-digit code that changes every 30 seconds.",
    )


class ConfirmWithCodeForm(FlaskForm):
    """Turning two-factor sign-in off, or replacing recovery codes: a current code proves it is you."""

    code = StringField(
        "Code from your app, or a recovery code",
        filters=[strip],
        validators=[InputRequired(message="Enter the 6-digit code from your authenticator app, or a recovery code.")],
    )


class EndSessionForm(FlaskForm):
    """A button: signing a device out (the form carries only the CSRF token)."""


class DownloadMyDataForm(FlaskForm):
    """Only the CSRF token: making the zip is a POST, so a link or a preloader never starts one."""


class EraseMeForm(FlaskForm):
    password = PasswordField(
        "Your password",
        validators=[InputRequired(message="Enter your password to erase your data.")],
        description="So we know it is you asking.",
    )
