"""Delivery of each day's listed papers by e-mail (SMTP) and Slack/Discord webhooks.

``select`` decides which papers a recipient gets, ``compose`` renders the e-mail (HTML with
inlined CSS + plain text), ``smtp`` and ``webhook`` send, and ``deliver`` runs it all
against the ledger in the database so that nothing is sent twice.
"""
