// The sign-in page: posts the personal token once; the server answers with an HttpOnly cookie.
const form = document.getElementById("signin-form");
const error = document.getElementById("signin-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const token = document.getElementById("token").value.trim();
  const res = await fetch("/api/signin", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }),
  });
  if (res.ok) {
    window.location.replace("/");
    return;
  }
  const body = await res.json().catch(() => ({}));
  error.textContent = body.error || `sign-in failed (${res.status})`;
  error.hidden = false;
});
