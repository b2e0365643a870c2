"""On PostgreSQL, refuse UPDATE and DELETE on the access log. Only the retention purge may
delete, and only inside a transaction that has run SET LOCAL chatcounsel.purge = 'on'."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION chat_accesslog_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('chatcounsel.purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the access log is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER chat_accesslog_append_only
    BEFORE UPDATE OR DELETE ON chat_accesslog
    FOR EACH ROW EXECUTE FUNCTION chat_accesslog_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS chat_accesslog_append_only ON chat_accesslog;
DROP FUNCTION IF EXISTS chat_accesslog_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("chat", "0003_accesslog")]
    operations = [migrations.RunPython(forwards, backwards)]
