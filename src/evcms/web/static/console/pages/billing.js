// Invoices and payments: receipts, invoices and credit notes (PDF, cancel with a credit note),
// settled charges of sessions, and card payments.
import { action, field, section } from "../lib/admin.js";

const PAGE = 50;

export async function render(root, ctx) {
  const { h, ui, t, fmt } = ctx;
  const canBill = ctx.may("manage_billing");
  root.append(h("h1", {}, t("Invoices and payments")));

  // -- invoices --------------------------------------------------------------------------------
  const kinds = { receipt: t("receipt"), invoice: t("invoice"), credit_note: t("credit note") };
  const kind = h("select", { id: "invoice-kind" }, h("option", { value: "" }, t("All")),
    Object.entries(kinds).map(([value, label]) => h("option", { value }, label)));
  const driver = h("input", { id: "invoice-driver", placeholder: t("Driver id") });
  const invoicesBox = h("div", { id: "invoices" });
  const pager = h("div", { class: "toolbar" });
  let offset = 0;

  async function loadInvoices() {
    const found = await ctx.get("/invoices", { kind: kind.value, driver_id: driver.value.trim(), limit: PAGE, offset });
    ui.clear(invoicesBox, ui.table([
      { label: t("Number"), value: (i) => h("span", { class: "mono" }, i.number) },
      { label: t("Kind"), value: (i) => kinds[i.kind] || i.kind },
      { label: t("Issued"), value: (i) => fmt.datetime(i.issued_at) },
      { label: t("Buyer"), value: (i) => (i.buyer && i.buyer.name) || i.driver_id || "–" },
      { label: t("Total"), num: true, value: (i) => fmt.money(i.total_incl_vat, i.currency) },
      { label: t("VAT"), num: true, value: (i) => fmt.money(i.total_vat, i.currency) },
      { label: t("Payment"), value: (i) => ui.badge(i.payment_status === "paid" ? t("paid") : t("due"), i.payment_status === "paid" ? "ok" : "warning") },
      { label: t("Corrects"), value: (i) => i.corrects_number || "" },
      { label: "", value: (i) => h("div", { class: "adm-actions" },
        h("button", { type: "button", class: "secondary", onclick: action(ui, () => ctx.download(`/invoices/${i.id}/pdf`, null, `${i.number}.pdf`)) }, "PDF"),
        canBill && i.kind !== "credit_note" ? h("button", { type: "button", class: "secondary", onclick: action(ui, () => creditNote(i)) }, t("Credit note")) : null) },
    ], found.invoices, { rowId: (i) => i.id, empty: t("No documents") }));
    ui.clear(pager,
      offset > 0 ? h("button", { type: "button", class: "secondary", onclick: action(ui, () => { offset = Math.max(0, offset - PAGE); return loadInvoices(); }) }, t("Newer")) : null,
      found.invoices.length === PAGE ? h("button", { type: "button", class: "secondary", onclick: action(ui, () => { offset += PAGE; return loadInvoices(); }) }, t("Older")) : null);
  }

  async function creditNote(invoice) {
    const reason = h("input", { id: "credit-reason", required: true, maxlength: 500 });
    const ok = await new Promise((resolve) => {
      const dialog = h("dialog", { id: "credit-dialog" },
        h("p", {}, t("Cancel {number} with a credit note for the whole document.", { number: invoice.number })),
        field(t("Reason (printed on the credit note)"), reason),
        h("div", { class: "actions" },
          h("button", { type: "button", class: "secondary", onclick: () => { dialog.close(); resolve(false); } }, t("Cancel")),
          h("button", { type: "button", class: "danger", onclick: () => { if (reason.value.trim()) { dialog.close(); resolve(true); } else reason.focus(); } }, t("Issue credit note"))));
      dialog.addEventListener("close", () => { dialog.remove(); resolve(false); });
      document.body.append(dialog);
      dialog.showModal();
    });
    if (!ok) return;
    const note = await ctx.post(`/invoices/${invoice.id}/credit-note`, { reason: reason.value.trim() });
    ui.toast(t("Credit note {number} issued", { number: note.number }));
    await loadInvoices();
  }

  kind.addEventListener("change", () => { offset = 0; loadInvoices().catch((exc) => ui.toast(exc.message, { error: true })); });
  driver.addEventListener("change", () => { offset = 0; loadInvoices().catch((exc) => ui.toast(exc.message, { error: true })); });

  // -- charges ---------------------------------------------------------------------------------
  const chargeStatus = h("select", { id: "charge-status" }, h("option", { value: "" }, t("All")),
    ["pending", "paid", "unpaid", "free"].map((s) => h("option", { value: s }, t(s))));
  const chargesBox = h("div", { id: "charges" });
  async function loadCharges() {
    let charges;
    try { charges = await ctx.get("/charges", { status: chargeStatus.value, limit: 100 }); } catch (exc) {
      ui.clear(chargesBox, h("p", { class: "error" }, exc.message));
      return;
    }
    ui.clear(chargesBox, ui.table([
      { label: t("Session"), value: (c) => h("a", { href: `#/sessions/${c.session_id}` }, `#${c.session_id}`) },
      { label: t("Status"), value: (c) => ui.badge(t(c.status), c.status === "paid" ? "ok" : c.status === "unpaid" ? "failed" : c.status === "pending" ? "Pending" : "info") },
      { label: t("Paid by"), value: (c) => c.payment_mode },
      { label: t("Tariff"), value: (c) => (c.tariff_id ? `${c.tariff_id} v${c.tariff_version}` : "–") },
      { label: t("Total"), num: true, value: (c) => fmt.money(c.total_incl_vat, c.currency) },
      { label: t("Settled"), value: (c) => fmt.datetime(c.settled_at) },
      { label: t("Error"), value: (c) => c.error || "" },
    ], charges, { rowId: (c) => c.session_id, empty: t("No charges") }));
  }
  chargeStatus.addEventListener("change", loadCharges);

  // -- payments --------------------------------------------------------------------------------
  const paymentsBox = h("div", { id: "payments" });
  async function loadPayments() {
    let payments;
    try { payments = (await ctx.get("/payments", { limit: 100 })).payments; } catch (exc) {
      ui.clear(paymentsBox, h("p", { class: exc.status === 503 ? "muted" : "error" }, exc.message));
      return;
    }
    ui.clear(paymentsBox, ui.table([
      { label: t("Created"), value: (p) => fmt.datetime(p.created_at) },
      { label: t("Purpose"), value: (p) => ({ session: t("session"), top_up: t("top-up"), subscription: t("subscription") }[p.purpose] || p.purpose) },
      { label: t("Session"), value: (p) => (p.session_id ? h("a", { href: `#/sessions/${p.session_id}` }, `#${p.session_id}`) : "–") },
      { label: t("Status"), value: (p) => ui.badge(p.status, p.status) },
      { label: t("Authorised"), num: true, value: (p) => fmt.money(p.authorized, p.currency) },
      { label: t("Captured"), num: true, value: (p) => fmt.money(p.captured, p.currency) },
      { label: t("Provider"), value: (p) => h("span", { class: "mono" }, p.intent_ref || p.provider) },
      { label: t("Error"), value: (p) => p.error || "" },
    ], payments, { rowId: (p) => p.id, empty: t("No payments") }));
  }

  root.append(
    section(t("Invoices, receipts and credit notes"), h("div", { class: "toolbar" }, field(t("Kind"), kind), field(t("Driver id"), driver)), invoicesBox, pager),
    section(t("Charges"), h("div", { class: "toolbar" }, field(t("Status"), chargeStatus)), chargesBox),
    section(t("Card payments"), paymentsBox));
  try { await loadInvoices(); } catch (exc) { ui.clear(invoicesBox, h("p", { class: "error" }, exc.message)); }
  await Promise.all([loadCharges(), loadPayments()]);
}
