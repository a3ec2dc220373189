"""Run a select as one page of results."""
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from server.extensions import db


@dataclass
class Page:
    """One page of a list, as the list schemas dump it."""

    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return (self.total + self.per_page - 1) // self.per_page


def where_equal(query: Select, model, filters: dict) -> Select:
    """`query` narrowed to rows whose column equals each filter that is not None."""
    for name, value in filters.items():
        if value is not None:
            query = query.where(getattr(model, name) == value)
    return query


def paginate(query: Select, *, page: int, per_page: int, scalars: bool = True,
             count_query: Select | None = None) -> Page:
    """Count `count_query` (default: `query`) and fetch the requested page of `query`."""
    counted = (count_query if count_query is not None else query).order_by(None)
    total = db.session.scalar(select(func.count()).select_from(counted.subquery()))
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page))
    items = list(rows.scalars().unique()) if scalars else list(rows)
    return Page(items=items, page=page, per_page=per_page, total=total or 0)
