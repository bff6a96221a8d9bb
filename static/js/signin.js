// The sign-in page: posts the personal token once; the server answers with an HttpOnly cookie.

import { api } from "./api.js";

const form = document.getElementById("signin-form");
const error = document.getElementById("signin-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  try {
    await api.signIn(document.getElementById("token").value.trim());
  } catch (err) {
    error.textContent = err.message || "sign-in failed";
    error.hidden = false;
    return;
  }
  window.location.replace("/");
});
