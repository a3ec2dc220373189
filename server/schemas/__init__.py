"""Marshmallow schemas: XIn / XOut / XUpdate per resource."""
