"""Errors raised when an input file breaks the data contract."""

from __future__ import annotations


class DataValidationError(ValueError):
    """One problem in one input file, located by file, row and column.

    `row` is the row number a spreadsheet shows for the offending line (the header is row 1, the
    first data row is row 2); it is None when the problem concerns the whole file (a missing column).
    """

    def __init__(self, file: str, row: int | None, column: str | None, message: str) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'" if self.row is not None else f" column '{self.column}'"
        return f"{where}: {self.message}"

    def __reduce__(self):  # keep the error picklable across Dagster/multiprocessing boundaries
        return (type(self), (self.file, self.row, self.column, self.message))
