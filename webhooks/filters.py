"""Filters of a webhook's delivery log (core.filters)."""

from __future__ import annotations

import django_filters

from webhooks.models import Delivery


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=Delivery.Status.choices, help_text="only deliveries in this status"
    )

    class Meta:
        model = Delivery
        fields = ["status"]
