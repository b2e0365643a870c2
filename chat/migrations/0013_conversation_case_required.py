from django.db import migrations, models
import django.db.models.deletion


def give_every_conversation_a_case(apps, schema_editor):
    """Conversations from before cases existed join a case of their own: an anonymous
    client record's closed case in the conversation's unit, owned by its worker if any."""
    Conversation = apps.get_model("chat", "Conversation")
    Case = apps.get_model("chat", "Case")
    ClientRecord = apps.get_model("chat", "ClientRecord")
    for conversation in Conversation.objects.filter(case__isnull=True).iterator():
        case = Case.objects.create(
            client=ClientRecord.objects.create(),
            unit_id=conversation.unit_id,
            owner_id=conversation.worker_id,
            status="closed" if conversation.state in ("ended", "abandoned", "offline") else "open",
            legal_hold=conversation.legal_hold,
        )
        Conversation.objects.filter(pk=conversation.pk).update(case=case)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0012_worker_gone_event"),
    ]

    operations = [
        migrations.RunPython(give_every_conversation_a_case, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="conversation",
            name="case",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="conversations",
                to="chat.case",
            ),
        ),
    ]
