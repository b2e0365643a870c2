"""Business rules: the only code that writes. Interfaces call these and nothing else.

- conversations: conversation_start, conversation_accept, conversation_end
- messages: message_post (gapless seq, idempotent per client_id)
- queue: queue_announce
"""
