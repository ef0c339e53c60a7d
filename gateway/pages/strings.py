"""UI text of the citizen pages: Bahasa Indonesia (default) and English.

Keys are shared by both languages (a test checks they match). Strings with ``{...}`` are
filled with ``str.format`` in the templates; everything is escaped by Jinja when rendered.
"""

from __future__ import annotations

LANGUAGES = ("id", "en")

STRINGS: dict[str, dict[str, str]] = {
    "id": {
        "html_lang": "id",
        "site_name": "Pengaduan Masyarakat Kota Bogor",
        "site_tagline": "Layanan aspirasi dan pengaduan, Pemerintah Kota Bogor",
        "switch_language": "English",
        "nav_report": "Buat pengaduan",
        "nav_track": "Lacak pengaduan",
        "required": "wajib",
        "optional": "opsional",
        # --- form
        "form_title": "Buat pengaduan",
        "form_intro": (
            "Sesuai SOP pengelolaan pengaduan, NIK, nama, alamat dan nomor telepon wajib diisi. "
            "Pengaduan dengan identitas tidak lengkap atau tidak benar tidak dapat diproses lebih lanjut."
        ),
        "form_privacy": (
            "Data pribadi Anda hanya dipakai untuk menangani pengaduan ini dan tidak ditampilkan di halaman pelacakan."
        ),
        "section_identity": "Identitas pelapor",
        "section_complaint": "Pengaduan",
        "label_nik": "NIK",
        "hint_nik": "16 angka sesuai KTP-el.",
        "label_nama": "Nama lengkap",
        "label_alamat": "Alamat",
        "hint_alamat": "Alamat tempat tinggal (jalan, RT/RW, kelurahan).",
        "label_telp": "No. Telp / HP",
        "hint_telp": "Contoh: 0812-3456-7890.",
        "label_email": "Email",
        "hint_email": "Jika diisi, pastikan alamatnya benar.",
        "section_protection": "Perlindungan pelapor",
        "label_anonim": "Anonim: jangan tampilkan identitas saya kepada OPD",
        "hint_anonim": 'Operator tetap memeriksa identitas Anda; OPD hanya melihat "Pelapor".',
        "label_rahasia": "Rahasia: jangan tampilkan laporan saya di halaman publik",
        "hint_rahasia": "Isi, foto dan jawaban tidak tampil di halaman lacak maupun statistik; hanya jumlahnya.",
        "label_isi": "Isi pengaduan",
        "hint_isi": "Jelaskan apa, di mana dan sejak kapan. Maksimal {max} karakter.",
        "label_foto": "Foto",
        "hint_foto": "JPEG, PNG atau WebP, maksimal {mb} MB.",
        "photo_kept": "Foto sudah tersimpan: {name}. Pilih file lain hanya jika ingin menggantinya.",
        "submit": "Kirim pengaduan",
        "errors_summary": "Pengaduan belum terkirim. Mohon perbaiki isian berikut:",
        # --- field errors (form field + problem code)
        "isi_missing": "Isi pengaduan wajib diisi.",
        "isi_too_long": "Isi pengaduan terlalu panjang (maksimal {max} karakter).",
        "isi_not_processed": (
            "Pengaduan belum tersimpan karena gangguan pada sistem kami. Isian Anda tetap ada; silakan kirim lagi."
        ),
        "foto_type": "Foto harus berupa gambar JPEG, PNG atau WebP.",
        "foto_too_large": "Ukuran foto terlalu besar (maksimal {mb} MB).",
        "nik_missing": "NIK wajib diisi.",
        "nik_format": "NIK harus 16 angka sesuai KTP-el.",
        "nik_region": "Kode wilayah pada NIK tidak dikenal. Periksa kembali 6 angka pertama.",
        "nik_birthdate": "Tanggal lahir pada NIK tidak valid. Periksa kembali angka ke-7 sampai ke-12.",
        "nama_missing": "Nama wajib diisi.",
        "nama_invalid": "Nama harus berupa huruf, tanpa angka.",
        "alamat_missing": "Alamat wajib diisi.",
        "alamat_invalid": "Alamat tidak valid.",
        "telp_missing": "Nomor telepon wajib diisi.",
        "telp_invalid": "Nomor telepon tidak valid.",
        "email_invalid": "Alamat email tidak valid.",
        "field_invalid": "Isian ini tidak valid.",
        # --- receipt
        "receipt_title": "Pengaduan diterima",
        "receipt_lead": "Pengaduan diterima. Nomor tiket:",
        "receipt_keep": "Simpan nomor tiket ini untuk mengecek status pengaduan Anda.",
        "receipt_track": "Lihat status pengaduan",
        "receipt_new": "Buat pengaduan lain",
        # --- tracking
        "track_title": "Lacak pengaduan",
        "track_intro": "Masukkan nomor tiket yang Anda terima, misalnya BGR-7KQ2XMP.",
        "label_tiket": "Nomor tiket",
        "track_submit": "Lacak",
        "tiket_invalid": "Nomor tiket tidak dikenali. Formatnya BGR- diikuti 7 huruf/angka.",
        "status_title": "Status pengaduan {ticket}",
        "status_heading": "Status pengaduan",
        "status_current": "Status",
        "status_step": "Tahap SOP",
        "status_step_value": "Langkah {step} dari 9",
        "status_opd": "Ditangani oleh",
        "status_opd_none": "Belum ditentukan",
        "status_received": "Diterima pada",
        "status_deadline": "Batas waktu tahap ini",
        "status_class_deadline": "Batas waktu penyelesaian pengaduan",
        "status_deadline_none": "—",
        "status_history": "Riwayat",
        "history_time": "Waktu",
        "history_status": "Status",
        "history_empty": "Pengaduan sedang diproses oleh sistem.",
        "status_refresh": "Muat ulang",
        "note_dikembalikan_ke_pelapor": (
            "Pengaduan dikembalikan karena data identitas belum lengkap atau tidak valid. "
            "Silakan kirim ulang pengaduan dengan identitas lengkap."
        ),
        "note_selesai": "Jawaban telah disampaikan. Proses pengaduan selesai.",
        "merged_note": (
            "Pengaduan Anda sama dengan pengaduan {ticket} dan ditangani bersama: status di bawah ini adalah "
            "status penanganannya, dan jawabannya juga dikirim kepada Anda."
        ),
        # --- part-manual: the answer on the tracking page, and what each SOP step means for the citizen
        "note_dianalisa": "OPD yang berwenang sedang mempelajari pengaduan Anda.",
        "note_ditindaklanjuti": "OPD sedang menindaklanjuti pengaduan Anda di lapangan.",
        "note_dijawab": "OPD telah menyiapkan jawaban; jawaban sedang diperiksa sebelum dikirim kepada Anda.",
        "note_diterima_operator": "Jawaban OPD sedang diperiksa petugas sebelum dikirim kepada Anda.",
        "answer_heading": "Jawaban",
        "answer_sent_on": "Jawaban telah dikirim kepada Anda melalui {channel}.",
        "channel_web": "formulir web",
        "channel_sms": "SMS",
        "channel_email": "e-mail",
        "channel_whatsapp": "WhatsApp",
        "channel_telegram": "Telegram",
        "channel_x": "pesan langsung X",
        "channel_app": "aplikasi",
        "channel_phone": "telepon",
        "channel_other": "kanal yang Anda gunakan",
        # --- issue 14: rating the answer on the tracking page
        "rating_heading": "Nilai jawaban ini",
        "rating_intro": "Apakah jawaban ini menyelesaikan pengaduan Anda?",
        "rating_puas": "PUAS",
        "rating_tidak_puas": "TIDAK PUAS",
        "rating_reason": "Alasan (jika tidak puas)",
        "rating_reason_hint": "Dengan alasan, pengaduan dibuka kembali dan dikirim lagi ke OPD yang sama.",
        "rating_done_recorded": "Terima kasih, penilaian Anda sudah tercatat.",
        "rating_done_reopened": "Terima kasih. Pengaduan Anda dibuka kembali dan dikirim lagi ke OPD yang sama.",
        "rating_done_to_operator": (
            "Terima kasih. Pengaduan ini sudah pernah dibuka kembali; petugas akan memutuskan tindak lanjutnya."
        ),
        "rating_closed_title": "Penilaian tidak dapat diterima",
        "rating_closed_body": "Jawaban pengaduan ini sudah dinilai, atau masa penilaiannya sudah berakhir.",
        # --- errors
        "error_404_title": "Halaman tidak ditemukan",
        "error_404_body": "Nomor tiket atau halaman yang Anda cari tidak ditemukan.",
        "error_413_title": "Kiriman terlalu besar",
        "error_413_photo": "Ukuran foto melebihi batas {mb} MB. Perkecil foto lalu kirim ulang.",
        "error_413_fields": "Isian formulir terlalu panjang. Persingkat isi pengaduan lalu kirim ulang.",
        "error_400_title": "Kiriman tidak dapat dibaca",
        "error_400_body": "Formulir tidak terkirim dengan benar. Silakan isi ulang formulir.",
        "error_503_title": "Layanan sedang sibuk",
        "error_503_body": "Pengaduan Anda belum tersimpan. Silakan coba kirim lagi beberapa saat lagi.",
        "error_back": "Kembali ke formulir",
        "error_429_title": "Terlalu banyak permintaan",
        "error_429_body": (
            "Terlalu banyak pelacakan dari alamat internet Anda. Silakan coba lagi dalam {minutes} menit."
        ),
        "months": "Jan Feb Mar Apr Mei Jun Jul Agu Sep Okt Nov Des",
        # part-hostile: refused cross-site posts and expired form tokens
        "error_403_title": "Kiriman ditolak",
        "error_403_cross_site": (
            "Formulir ini hanya dapat dikirim dari halaman pengaduan kami sendiri. Buka formulir lalu kirim lagi."
        ),
        "error_403_expired": (
            "Formulir sudah kedaluwarsa atau cookie browser Anda tidak aktif. Buka formulir baru lalu kirim lagi."
        ),
    },
    "en": {
        "html_lang": "en",
        "site_name": "Kota Bogor Public Complaints",
        "site_tagline": "Aspirations and complaints service, Bogor City Government",
        "switch_language": "Bahasa Indonesia",
        "nav_report": "Submit a complaint",
        "nav_track": "Track a complaint",
        "required": "required",
        "optional": "optional",
        "form_title": "Submit a complaint",
        "form_intro": (
            "Under the complaints procedure (SOP), NIK, name, address and phone number are required. "
            "A complaint with incomplete or false identity cannot be processed further."
        ),
        "form_privacy": (
            "Your personal data is only used to handle this complaint and is never shown on the tracking page."
        ),
        "section_identity": "Your identity",
        "section_complaint": "Complaint",
        "label_nik": "NIK (national ID number)",
        "hint_nik": "The 16 digits on your e-KTP.",
        "label_nama": "Full name",
        "label_alamat": "Address",
        "hint_alamat": "Home address (street, RT/RW, kelurahan).",
        "label_telp": "Phone number",
        "hint_telp": "For example 0812-3456-7890.",
        "label_email": "Email",
        "hint_email": "If you give one, make sure it is correct.",
        "section_protection": "Protecting you",
        "label_anonim": "Anonymous: do not show my identity to the OPD",
        "hint_anonim": 'The operator still checks your identity; the OPD only sees "Pelapor".',
        "label_rahasia": "Confidential: do not show my complaint on public pages",
        "hint_rahasia": "Its text, photos and answer never show on the tracking or statistics pages; only counts do.",
        "label_isi": "Your complaint",
        "hint_isi": "Say what, where and since when. At most {max} characters.",
        "label_foto": "Photo",
        "hint_foto": "JPEG, PNG or WebP, at most {mb} MB.",
        "photo_kept": "Photo already saved: {name}. Choose another file only to replace it.",
        "submit": "Send complaint",
        "errors_summary": "Your complaint has not been sent yet. Please correct the following:",
        "isi_missing": "Please describe your complaint.",
        "isi_too_long": "The complaint is too long (at most {max} characters).",
        "isi_not_processed": (
            "Your complaint was not saved because of a fault on our side. Your input is kept; please send it again."
        ),
        "foto_type": "The photo must be a JPEG, PNG or WebP image.",
        "foto_too_large": "The photo is too large (at most {mb} MB).",
        "nik_missing": "NIK is required.",
        "nik_format": "NIK must be the 16 digits on your e-KTP.",
        "nik_region": "The region code in this NIK is unknown. Check its first 6 digits.",
        "nik_birthdate": "The birth date in this NIK is not valid. Check digits 7 to 12.",
        "nama_missing": "Name is required.",
        "nama_invalid": "The name must be letters, without digits.",
        "alamat_missing": "Address is required.",
        "alamat_invalid": "The address is not valid.",
        "telp_missing": "Phone number is required.",
        "telp_invalid": "The phone number is not valid.",
        "email_invalid": "The email address is not valid.",
        "field_invalid": "This value is not valid.",
        "receipt_title": "Complaint received",
        "receipt_lead": "Complaint received. Ticket number:",
        "receipt_keep": "Keep this ticket number to check the status of your complaint.",
        "receipt_track": "See the complaint status",
        "receipt_new": "Submit another complaint",
        "track_title": "Track a complaint",
        "track_intro": "Enter the ticket number you received, for example BGR-7KQ2XMP.",
        "label_tiket": "Ticket number",
        "track_submit": "Track",
        "tiket_invalid": "This is not a ticket number. It is BGR- followed by 7 letters/digits.",
        "status_title": "Status of complaint {ticket}",
        "status_heading": "Status of complaint",
        "status_current": "Status",
        "status_step": "SOP step",
        "status_step_value": "Step {step} of 9",
        "status_opd": "Handled by",
        "status_opd_none": "Not assigned yet",
        "status_received": "Received at",
        "status_deadline": "Deadline of this step",
        "status_class_deadline": "Deadline for the whole complaint",
        "status_deadline_none": "—",
        "status_history": "History",
        "history_time": "Time",
        "history_status": "Status",
        "history_empty": "The complaint is being processed by the system.",
        "status_refresh": "Reload",
        "note_dikembalikan_ke_pelapor": (
            "The complaint was returned because the identity data is incomplete or not valid. "
            "Please submit it again with your complete identity."
        ),
        "note_selesai": "The answer has been delivered. The complaint is closed.",
        "merged_note": (
            "Your complaint is the same as complaint {ticket} and is handled together with it: the status below "
            "is that handling's, and its answer is sent to you too."
        ),
        # --- part-manual: the answer on the tracking page, and what each SOP step means for the citizen
        "note_dianalisa": "The responsible OPD is studying your complaint.",
        "note_ditindaklanjuti": "The OPD is following up your complaint in the field.",
        "note_dijawab": "The OPD has prepared an answer; it is being checked before it is sent to you.",
        "note_diterima_operator": "The OPD's answer is being checked by our staff before it is sent to you.",
        "answer_heading": "Answer",
        "answer_sent_on": "The answer was sent to you by {channel}.",
        "channel_web": "the web form",
        "channel_sms": "SMS",
        "channel_email": "e-mail",
        "channel_whatsapp": "WhatsApp",
        "channel_telegram": "Telegram",
        "channel_x": "X direct message",
        "channel_app": "the app",
        "channel_phone": "telephone",
        "channel_other": "the channel you used",
        # --- issue 14: rating the answer on the tracking page
        "rating_heading": "Rate this answer",
        "rating_intro": "Did this answer resolve your complaint?",
        "rating_puas": "SATISFIED",
        "rating_tidak_puas": "NOT SATISFIED",
        "rating_reason": "Reason (if not satisfied)",
        "rating_reason_hint": "With a reason, the complaint is reopened and sent back to the same agency.",
        "rating_done_recorded": "Thank you, your rating has been recorded.",
        "rating_done_reopened": "Thank you. Your complaint has been reopened and sent back to the same agency.",
        "rating_done_to_operator": (
            "Thank you. This complaint was reopened once already; an officer will decide what happens next."
        ),
        "rating_closed_title": "Rating not accepted",
        "rating_closed_body": "The answer to this complaint has been rated already, or its rating period has ended.",
        "error_404_title": "Page not found",
        "error_404_body": "The ticket number or page you are looking for was not found.",
        "error_413_title": "Submission too large",
        "error_413_photo": "The photo is larger than {mb} MB. Make it smaller and send again.",
        "error_413_fields": "The form is too long. Shorten your complaint and send again.",
        "error_400_title": "Submission could not be read",
        "error_400_body": "The form did not arrive correctly. Please fill it in again.",
        "error_503_title": "Service busy",
        "error_503_body": "Your complaint has not been saved yet. Please try again in a moment.",
        "error_back": "Back to the form",
        "error_429_title": "Too many requests",
        "error_429_body": "Too many look-ups from your internet address. Please try again in {minutes} min.",
        "months": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
        # part-hostile: refused cross-site posts and expired form tokens
        "error_403_title": "Submission refused",
        "error_403_cross_site": "This form can only be sent from our own complaint page. Open the form and send again.",
        "error_403_expired": (
            "The form has expired or your browser's cookies are off. Open a new form and send again."
        ),
    },
}

# part-reports: the public statistics page's text lives in its own module.
from gateway.pages.statistik_strings import STATISTIK_STRINGS  # noqa: E402

for _lang in LANGUAGES:
    STRINGS[_lang].update(STATISTIK_STRINGS[_lang])
