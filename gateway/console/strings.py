"""UI text of the staff console: Bahasa Indonesia (default) and English.

Kept apart from the citizen pages' catalog: staff words (roles, queues) are not citizen words.
Keys are shared by both languages (a test checks they match); ``{...}`` is filled with
``str.format`` and everything is escaped by Jinja when rendered.
"""

from __future__ import annotations

LANGUAGES = ("id", "en")

STRINGS: dict[str, dict[str, str]] = {
    "id": {
        "html_lang": "id",
        "site_name": "Konsol Petugas",
        "site_owner": "Pengaduan Masyarakat Kota Bogor",
        "switch_language": "English",
        "skip_to_main": "Langsung ke isi",
        # --- navigation
        "nav_label": "Menu petugas",
        "nav_inbox": "Kotak masuk",
        "nav_manual": "Entri manual",
        "nav_reports": "Laporan",
        "nav_users": "Pengguna",
        "nav_soon": "segera",
        "signed_in_as": "Masuk sebagai",
        "logout": "Keluar",
        # --- roles
        "role_admin": "Admin",
        "role_operator": "Operator",
        "role_opd": "Petugas OPD",
        # --- login
        "login_title": "Masuk",
        "login_intro": "Halaman ini khusus untuk petugas pengelola pengaduan.",
        "label_email": "Email",
        "label_password": "Kata sandi",
        "login_submit": "Masuk",
        "login_wrong": "Email atau kata sandi salah.",
        "login_missing": "Isi email dan kata sandi.",
        "login_throttled": "Terlalu banyak percobaan masuk yang gagal. Coba lagi dalam {minutes} menit.",
        "logged_out": "Anda telah keluar.",
        "session_expired": "Sesi Anda sudah berakhir. Silakan masuk lagi.",
        # --- password
        "password_title": "Ganti kata sandi",
        "password_forced": "Anda masuk dengan kata sandi sekali pakai. Buat kata sandi baru sebelum melanjutkan.",
        "label_current_password": "Kata sandi saat ini",
        "label_new_password": "Kata sandi baru",
        "label_new_password2": "Ulangi kata sandi baru",
        "hint_new_password": "Minimal {min} karakter.",
        "password_submit": "Simpan kata sandi",
        "password_too_short": "Kata sandi baru minimal {min} karakter.",
        "password_too_long": "Kata sandi baru terlalu panjang.",
        "password_mismatch": "Kedua kata sandi baru tidak sama.",
        "password_current_wrong": "Kata sandi saat ini salah.",
        "password_changed": "Kata sandi sudah diganti.",
        # --- landing
        "home_title": "Kotak masuk",
        "home_who": "Petugas",
        "home_role": "Peran",
        "home_opd": "OPD",
        "home_opd_all": "Semua OPD",
        "home_placeholder": (
            "Daftar pengaduan yang menunggu tindakan Anda akan tampil di sini. "
            "Halaman kasus, entri manual, laporan dan pengelolaan pengguna sedang dibangun."
        ),
        "home_change_password": "Ganti kata sandi",
        # --- errors
        "error_403_title": "Formulir tidak sah",
        "error_403_body": (
            "Formulir ini kedaluwarsa atau tidak dikirim dari halaman konsol. Muat ulang halaman lalu kirim lagi."
        ),
        "error_back": "Kembali ke halaman masuk",
    },
    "en": {
        "html_lang": "en",
        "site_name": "Staff console",
        "site_owner": "Kota Bogor Public Complaints",
        "switch_language": "Bahasa Indonesia",
        "skip_to_main": "Skip to content",
        "nav_label": "Staff menu",
        "nav_inbox": "Inbox",
        "nav_manual": "Manual entry",
        "nav_reports": "Reports",
        "nav_users": "Users",
        "nav_soon": "coming",
        "signed_in_as": "Signed in as",
        "logout": "Log out",
        "role_admin": "Admin",
        "role_operator": "Operator",
        "role_opd": "OPD staff",
        "login_title": "Log in",
        "login_intro": "This page is for the staff who handle complaints.",
        "label_email": "Email",
        "label_password": "Password",
        "login_submit": "Log in",
        "login_wrong": "Wrong email or password.",
        "login_missing": "Enter your email and password.",
        "login_throttled": "Too many failed logins. Try again in {minutes} minute(s).",
        "logged_out": "You have logged out.",
        "session_expired": "Your session has ended. Please log in again.",
        "password_title": "Change password",
        "password_forced": "You logged in with a one-time password. Choose a new password before you continue.",
        "label_current_password": "Current password",
        "label_new_password": "New password",
        "label_new_password2": "New password again",
        "hint_new_password": "At least {min} characters.",
        "password_submit": "Save password",
        "password_too_short": "The new password needs at least {min} characters.",
        "password_too_long": "The new password is too long.",
        "password_mismatch": "The two new passwords differ.",
        "password_current_wrong": "The current password is wrong.",
        "password_changed": "Your password has been changed.",
        "home_title": "Inbox",
        "home_who": "Staff member",
        "home_role": "Role",
        "home_opd": "OPD",
        "home_opd_all": "All OPDs",
        "home_placeholder": (
            "The complaints waiting for you will be listed here. "
            "Case pages, manual entry, reports and user management are being built."
        ),
        "home_change_password": "Change password",
        "error_403_title": "Form not accepted",
        "error_403_body": (
            "This form has expired or was not sent from a console page. Reload the page and send it again."
        ),
        "error_back": "Back to the login page",
    },
}
