"""Ticket codes: compact Ed25519-signed tokens (signing, keys) and their QR images (qr).

Imported by the services, the schemas and the gate's lane; imports no model and no database.
"""
