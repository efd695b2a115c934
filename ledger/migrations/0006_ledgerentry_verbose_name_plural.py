from django.db import migrations


class Migration(migrations.Migration):
    """Admin label only ("Ledger entries", not "Ledger entrys"): no schema change."""

    dependencies = [("ledger", "0005_statement_balance_check")]

    operations = [
        migrations.AlterModelOptions(name="ledgerentry", options={"verbose_name_plural": "ledger entries"}),
    ]
