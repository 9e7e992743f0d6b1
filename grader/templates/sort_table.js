// The class overview's sortable table (index.html). Fixed code: no student text reaches it;
// the page's Content-Security-Policy lets only this exact script run (by its hash).
(() => {
  const table = document.querySelector("table.scores");
  const body = table.tBodies[0];
  const headers = [...table.tHead.rows[0].cells];
  const collator = new Intl.Collator(undefined, {numeric: true});  // student2 < student10
  headers.forEach((header, column) => {
    const button = header.querySelector("button");
    const numeric = header.dataset.sortType === "number";
    button.addEventListener("click", () => {
      const current = header.getAttribute("aria-sort");
      // First click: highest scores first, names A to Z; then each click flips.
      const direction = current ? (current === "ascending" ? "descending" : "ascending")
                                : (numeric ? "descending" : "ascending");
      const sign = direction === "ascending" ? 1 : -1;
      const rows = [...body.rows].map(row => {
        const key = row.cells[column].dataset.sort;
        return {row, key: key === undefined ? null : (numeric ? Number(key) : key)};
      });
      // Array.prototype.sort is stable: ties keep the previous order.
      rows.sort((a, b) => {
        if (a.key === null || b.key === null) return (a.key === null) - (b.key === null);
        return sign * (numeric ? a.key - b.key : collator.compare(a.key, b.key));
      });
      body.append(...rows.map(r => r.row));
      headers.forEach(h => h.removeAttribute("aria-sort"));
      header.setAttribute("aria-sort", direction);
    });
  });
  table.classList.add("sortable");  // shows the "sortable" hints only once they work
})();
