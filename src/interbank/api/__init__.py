"""The HTTP service: participant and operator APIs, authentication, authorisation.

This part owns the HTTPS service that participants, central banks, operators and
auditors reach over mutual TLS (``pki`` is its certificate authority and the check
on every client certificate), the mapping of requests to node commands and view
queries, and who may do what. It may import ``interbank.node``,
``interbank.iso20022``, ``interbank.views`` and ``interbank.engine`` types; nothing
but ``console`` and ``cli`` imports it.
"""
