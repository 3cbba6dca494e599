// Users and roles: the console's operator accounts (admins only: manage_access). Create a user
// with a role, change the role, disable or enable, set a new password.
import { action, field, section } from "../lib/admin.js";

const ROLES = ["admin", "operator", "technician", "viewer"];

export async function render(root, ctx) {
  const { h, ui, t, fmt } = ctx;
  root.append(h("h1", {}, t("Users and roles")));
  if (!ctx.may("manage_access")) {
    root.append(h("p", {}, t("Your role may not see this page.")));
    return undefined;
  }
  const listBox = h("div", { id: "users" });
  const roleOptions = ROLES.map((r) => [r, t(r)]);

  async function change(user, body, done) {
    await ctx.patch(`/users/${user.id}`, body);
    ui.toast(done);
    await load();
  }

  async function load() {
    const users = await ctx.get("/users");
    ui.clear(listBox, ui.table([
      { label: t("E-mail"), value: (u) => u.email },
      { label: t("Name"), value: (u) => u.name || "–" },
      { label: t("Role"), value: (u) => {
        const select = h("select", { "aria-label": t("Role of {email}", { email: u.email }), disabled: u.id === selfId || u.disabled },
          roleOptions.map(([value, label]) => h("option", { value, selected: value === u.role }, label)));
        select.addEventListener("change", action(ui, async () => {
          const role = select.value;
          if (!(await ui.confirmDialog(t("Make {email} {role}?", { email: u.email, role: t(role) })))) { select.value = u.role; return; }
          await change(u, { role }, t("{email} is now {role}", { email: u.email, role: t(role) }));
        }));
        return select;
      } },
      { label: t("Status"), value: (u) => ui.badge(u.disabled ? t("disabled") : t("active"), u.disabled ? "Unavailable" : "ok") },
      { label: t("Last sign-in"), value: (u) => (u.last_login_at ? fmt.ago(u.last_login_at) : t("never")) },
      { label: t("Since"), value: (u) => fmt.date(u.created_at) },
      { label: "", value: (u) => u.id === selfId ? h("span", { class: "muted" }, t("you")) : h("div", { class: "adm-actions" },
        u.disabled
          ? h("button", { type: "button", class: "secondary", onclick: action(ui, () => change(u, { disabled: false }, t("{email} enabled", { email: u.email }))) }, t("Enable"))
          : h("button", { type: "button", class: "danger", onclick: action(ui, async () => {
            if (!(await ui.confirmDialog(t("Disable {email}? They are signed out and cannot sign in.", { email: u.email }), { danger: true, confirm: t("Disable") }))) return;
            await change(u, { disabled: true }, t("{email} disabled", { email: u.email }));
          }) }, t("Disable")),
        h("button", { type: "button", class: "secondary", onclick: action(ui, () => newPassword(u)) }, t("New password"))) },
    ], users, { rowId: (u) => u.id }));
  }

  async function newPassword(user) {
    const input = h("input", { type: "password", id: "new-password", minlength: 10, autocomplete: "new-password" });
    const ok = await new Promise((resolve) => {
      const dialog = h("dialog", { id: "password-dialog" },
        h("p", {}, t("A new password for {email}; their sessions end.", { email: user.email })),
        field(t("Password (10 characters or more)"), input),
        h("div", { class: "actions" },
          h("button", { type: "button", class: "secondary", onclick: () => { dialog.close(); resolve(false); } }, t("Cancel")),
          h("button", { type: "button", onclick: () => { dialog.close(); resolve(true); } }, t("Save"))));
      dialog.addEventListener("close", () => { dialog.remove(); resolve(false); });
      document.body.append(dialog);
      dialog.showModal();
    });
    if (ok && input.value) await change(user, { password: input.value }, t("Password of {email} changed", { email: user.email }));
  }

  const selfId = ctx.user.id;
  root.append(section(t("New user"), h("div", { class: "card" }, ui.form([
    { name: "email", id: "user-email", label: t("E-mail"), type: "email", required: true },
    { name: "name", id: "user-name", label: t("Name") },
    { name: "role", id: "user-role", label: t("Role"), type: "select", options: roleOptions, value: "operator" },
    { name: "password", id: "user-password", label: t("Password (10 characters or more)"), type: "password", required: true },
  ], t("Create user"), async (values) => {
    const created = await ctx.post("/users", { email: values.email.trim(), name: values.name.trim(), role: values.role, password: values.password });
    ui.toast(t("{email} can now sign in as {role}", { email: created.email, role: t(created.role) }));
    for (const id of ["user-email", "user-name", "user-password"]) document.getElementById(id).value = "";
    await load();
  }))), section(t("Users"), listBox),
  h("p", { class: "muted" }, t("admin: everything; operator: network, stations and billing; technician: stations; viewer: read only.")));
  await load();
  return undefined;
}
