"""The development bank: members' capital and project loans that settle on the network.

This part owns the bank's rulebook (a versioned TOML file: share par value, founders
and their voting floor, fees, default loan terms and the spread tables by average
maturity), capital subscriptions and voting power, loans (tranches, fees, interest as
a reference rate plus a spread, day counts, repayment shapes, prepayment, cancellation,
arrears with penalty interest), their schedules, statements and portfolio reports, and
its own record store (a SQLite file beside the journal). Every disbursement, fee and
repayment is a transfer on the network, and reconciliation checks the loan's records
against the network's journal to the cent. It may import ``interbank.money``, engine
command types, and ``interbank.network_port`` (the one thin module that submits through
``interbank.node``); nothing else of the project.
"""
