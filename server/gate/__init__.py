"""Tickets at the gate: the signing keys, the signed ticket codes and their QR images."""
