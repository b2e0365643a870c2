"""Business rules: the only code that writes. Interfaces call these and nothing else.

- conversations: start, accept, end, abandon, rejoin, quick exit, priority, move
- messages: message_post (gapless seq, idempotent per client_id), private_note_post
- queue: assignment under the worker's lock, auto-assign, announcements, sweep, unanswered
- presence: heartbeats, status, capacity
- handover, participants: transfers and invitations
- cases: case codes, follow-up questions, offline questions, survey
- access: reads written to the access log; retention: the purge; replies: canned replies
"""
