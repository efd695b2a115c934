"""Template filters for amounts: `{% load ledger_display %}{{ lot.amount|money:lot.currency }}`
gives "10,000.00 AED" (ledger.currencies.display_amount)."""

from django import template

from ledger.currencies import display_amount

register = template.Library()


@register.filter
def money(amount, currency) -> str:
    return display_amount(amount, currency)
