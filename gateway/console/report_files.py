"""The report's tables as files: CSV (one table) and XLSX (one table, or every table a sheet).

Numbers stay numbers. Text that a spreadsheet would run as a formula (a cell starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return: an OPD's reason can be anything) is made
harmless: in CSV it gets a leading apostrophe (the OWASP advice), in XLSX it is stored as a
string, never a formula. CSV is UTF-8 with a byte-order mark, so Excel reads Indonesian text right.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from gateway.console.report_tables import Cell, Table

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
_SHEET_TITLE_MAX = 31  # Excel's limit


def _safe_text(cell: Cell) -> Cell:
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


def to_csv(table: Table) -> bytes:
    """One table as CSV: a heading row, then the rows (empty cell for no value)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.headers)
    writer.writerows([("" if c is None else _safe_text(c)) for c in row] for row in table.rows)
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(tables: Iterable[Table], title: str) -> bytes:
    """The tables as one workbook, a sheet each (named after the table), headings in bold."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    bold = Font(bold=True)
    for table in tables:
        sheet = book.create_sheet(table.name[:_SHEET_TITLE_MAX])
        sheet.append([table.title])
        sheet["A1"].font = bold
        sheet.append(list(table.headers))
        for cell in sheet[2]:
            cell.font = bold
        for row in table.rows:
            sheet.append(list(row))
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # text, never a formula
        for column in sheet.columns:
            width = max(len(str(c.value)) for c in column[1:] if c.value is not None) if sheet.max_row > 1 else 10
            sheet.column_dimensions[column[0].column_letter].width = min(60, max(10, width + 2))
    book.properties.title = title
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
