"""How accounts are named on screen: by their name where the scan knows one (an Organization's account name, a
profile), with the id beside it; ids alone are hard to tell apart, names alone can repeat."""
from __future__ import annotations

import html


def account_names(result) -> dict[str, str]:
    """Account id -> its name where the scan knows one (an Organization's account name, a profile), else nothing:
    ids alone are hard to tell apart, names alone can repeat.  ``result``: anything with a scope, or None."""
    if result is None:
        return {}
    scope = result.scope
    if "account_label" not in scope:
        return {}
    names = {}
    for acct, label in zip(scope["account_id"], scope["account_label"]):
        if isinstance(label, str) and label.split(":", 1)[-1] and label not in ("default",):
            name = label.split(":", 1)[1] if ":" in label else label
            if name and name != acct and not name.startswith("arn:") and name != "(caller)":
                names[acct] = name
    return names


def named(names: dict, account_id: str) -> str:
    """"member-a 123456789012" where the name is known, else the id (plain text)."""
    return f"{names[account_id]} {account_id}" if names.get(account_id) else account_id


def account_cells(result, accounts, regions) -> list[str]:
    """The "account / region" cells (HTML): the account's name over its id over its region, or its id over its
    region (a line each: a region never breaks at its hyphens)."""
    names = account_names(result)
    e = html.escape
    return [f"{e(names[a])}<br><small>{e(a)}<br>{e(r)}</small>" if names.get(a) else f"{e(a)}<br><small>{e(r)}</small>"
            for a, r in zip(accounts, regions)]
