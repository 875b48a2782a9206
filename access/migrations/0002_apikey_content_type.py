# The ApiKey content type moves with the model (claudeflow_site.apikey → access.apikey), so the
# permissions granted on API keys and the admin's history of them stay attached. A new database has
# no such row yet (content types are created after migrating), so this does nothing there.

from django.db import migrations


def relabel(apps, schema_editor, old, new):
    content_types = apps.get_model('contenttypes', 'ContentType').objects.using(schema_editor.connection.alias)
    if not content_types.filter(app_label=new, model='apikey').exists():
        content_types.filter(app_label=old, model='apikey').update(app_label=new)


def forwards(apps, schema_editor):
    relabel(apps, schema_editor, 'claudeflow_site', 'access')


def backwards(apps, schema_editor):
    relabel(apps, schema_editor, 'access', 'claudeflow_site')


class Migration(migrations.Migration):

    dependencies = [
        ('access', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
