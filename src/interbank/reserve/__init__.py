"""The reserve pool: a contingent reserve arrangement among member central banks.

This part owns the pool's rulebook (a versioned TOML file: commitments, access
multipliers, the IMF-link rule, instruments, maturities, renewals, interest and voting),
the decisions taken under it (requests, weighted votes, approvals, rejections, expiries,
swaps, renewals, repayments, arrears), and its own record store (a SQLite file beside
the journal). Commitments stay with the members; money moves only when a drawing is
settled, as linked transfers on the network (both legs of the currency swap or none).
It may import ``interbank.money``, engine command types, and ``interbank.network_port``
(the one thin module that submits through ``interbank.node``); nothing else of the
project.
"""
