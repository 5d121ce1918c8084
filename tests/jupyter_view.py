"""Reading the client's Jupyter view (GraphResult._repr_html_) back in tests."""

from xml.etree import ElementTree


def variables_rows(html: str) -> dict[str, list[str]]:
    """The variables table: each name's cells (value, grad, shape, dtype, grad_fn)."""
    table = ElementTree.fromstring(html[html.index("<table") : html.index("</table>") + 8])
    return {
        str(row[0].findtext("code")): [cell.text or "" for cell in row[1:]]
        for row in table.iter("tr")
        if row[0].tag == "th" and row[0].get("scope") == "row"
    }
