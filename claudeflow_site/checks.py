"""System checks of this deployment's own settings (`manage.py check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_secrets(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Settings refuse short secrets when DEBUG=false; this reports them in any mode (a development
    server exposed to others is as forgeable)."""
    errors = []
    secrets = {"SECRET_KEY": settings.SECRET_KEY}
    if settings.JWT_SECRET != settings.SECRET_KEY:  # else it is the same secret, reported once
        secrets["JWT_SECRET"] = settings.JWT_SECRET
    for name, value in secrets.items():
        if len(value) < settings.MIN_SECRET_LENGTH:
            errors.append(
                Error(
                    f"{name} is {len(value)} characters long: a secret this short can be brute-forced "
                    "offline from one signed token, then tokens forged.",
                    hint=f"Use at least {settings.MIN_SECRET_LENGTH} random characters, e.g. "
                    "python -c 'import secrets; print(secrets.token_urlsafe(50))'",
                    id="claudeflow.E001",
                )
            )
    return errors


@register(Tags.security, deploy=True)
def check_webhook_networks(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """The SSRF guard is for production; lifting it there lets any user's webhook reach internal
    services (the database, the cloud metadata endpoint)."""
    if not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return []
    return [
        Warning(
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS=true: webhooks may be sent to loopback, private and "
            "cloud metadata addresses (server-side request forgery).",
            hint="Keep it for development and tests; unset it in production.",
            id="claudeflow.W001",
        )
    ]


# The installed wheel's top-level packages: design names kept from the repository (see the README's
# "Installing the package"). tests/test_package_imports.py keeps this list equal to its LAYERS.
PROJECT_PACKAGES = (
    "claudeflow_site",
    "access",
    "core",
    "ops",
    "events",
    "engine",
    "swarms",
    "agents",
    "tasks",
    "workspaces",
    "ui",
    "fakeclaude",
    "webhooks",
)
DISTRIBUTION = "claudeflow-server"


@register()
def check_top_level_packages(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Generic names such as `tasks` or `agents` may be claimed by another distribution in the same
    environment: it would overwrite our files, or shadow our package. Both are reported."""
    import importlib
    from importlib.metadata import packages_distributions
    from pathlib import Path

    here = Path(__file__).resolve().parent.parent
    owners = packages_distributions()
    problems: list[CheckMessage] = []
    for name in PROJECT_PACKAGES:
        others = sorted({owner for owner in owners.get(name, []) if owner.lower() != DISTRIBUTION})
        if others:
            problems.append(
                Warning(
                    f"The top-level package {name!r} is also installed by {', '.join(others)}: "
                    "one overwrites the other's files.",
                    hint=f"Install {DISTRIBUTION} into a virtual environment of its own (python -m venv, pipx).",
                    id="claudeflow.W010",
                )
            )
        module = importlib.import_module(name)
        location = Path(module.__file__ or "").resolve().parent.parent
        if location != here:
            problems.append(
                Error(
                    f"The package {name!r} is imported from {location}, not from {here} as the rest of "
                    "this server: another package of that name shadows it.",
                    hint=f"Install {DISTRIBUTION} into a virtual environment of its own (python -m venv, pipx).",
                    id="claudeflow.E010",
                )
            )
    return problems
