"""Text of the public statistics page (``/statistik``), merged into :data:`gateway.pages.strings.STRINGS`."""

from __future__ import annotations

STATISTIK_STRINGS: dict[str, dict[str, str]] = {
    "id": {
        "nav_statistik": "Statistik",
        "statistik_title": "Statistik pengaduan",
        "statistik_intro": (
            "Jumlah pengaduan masyarakat yang diterima Pemerintah Kota Bogor, {first} s.d. {last}. "
            "Halaman ini hanya memuat angka: tidak ada data pribadi, tiket, atau isi pengaduan."
        ),
        "statistik_per_month": "Pengaduan diterima per bulan",
        "statistik_per_status": "Pengaduan per status saat ini",
        "statistik_per_opd": "Pengaduan per OPD",
        "statistik_month": "Bulan",
        "statistik_status": "Status",
        "statistik_opd": "OPD",
        "statistik_count": "Jumlah",
        "statistik_received": "Pengaduan",
        "statistik_answered": "Dijawab",
        "statistik_merged": "Digabung",
        "statistik_status_merged": "Digabung ke pengaduan lain",
        "statistik_merged_note": (
            "Digabung: pengaduan yang sama dengan pengaduan lain dan digabung ke dalamnya; pelapornya menerima "
            "jawaban pengaduan utama, yang dihitung satu kali sebagai dijawab."
        ),
        "statistik_share": "% dijawab dalam waktu standar",
        "statistik_satisfied": "% pelapor PUAS",
        "statistik_reopened": "% dibuka kembali",
        "statistik_rating_note": (
            "% pelapor PUAS: dari penilaian pelapor atas jawaban OPD; % dibuka kembali: jawaban yang dinilai "
            "TIDAK PUAS dan dikirim kembali ke OPD. Ditampilkan bila ada sedikitnya {min} penilaian (jawaban)."
        ),
        "statistik_standard_note": (
            "Dalam waktu standar: OPD menjawab paling lama {hours} jam kerja sejak pengaduan didisposisikan "
            "kepadanya (Mutu Baku SOP langkah 4 sampai 6)."
        ),
        "statistik_hidden": "{n} OPD dengan kurang dari {min} pengaduan tidak ditampilkan.",
        "statistik_none": "Belum ada pengaduan pada periode ini.",
    },
    "en": {
        "nav_statistik": "Statistics",
        "statistik_title": "Complaint statistics",
        "statistik_intro": (
            "Public complaints received by the Bogor city government, {first} to {last}. "
            "This page holds numbers only: no personal data, tickets or complaint text."
        ),
        "statistik_per_month": "Complaints received per month",
        "statistik_per_status": "Complaints per current status",
        "statistik_per_opd": "Complaints per OPD",
        "statistik_month": "Month",
        "statistik_status": "Status",
        "statistik_opd": "OPD",
        "statistik_count": "Count",
        "statistik_received": "Complaints",
        "statistik_answered": "Answered",
        "statistik_merged": "Merged",
        "statistik_status_merged": "Merged into another case",
        "statistik_merged_note": (
            "Merged: complaints about the same problem as another one and merged into it; their reporters "
            "receive the main complaint's answer, which counts once as answered."
        ),
        "statistik_share": "% answered within the standard",
        "statistik_satisfied": "% citizens satisfied",
        "statistik_reopened": "% reopened",
        "statistik_rating_note": (
            "% citizens satisfied: of the citizens' ratings of the OPD's answers; % reopened: answers rated "
            "TIDAK PUAS and sent back to the OPD. Shown over at least {min} ratings (answers)."
        ),
        "statistik_standard_note": (
            "Within the standard: the OPD answered within {hours} working hours of the complaint being "
            "assigned to it (the SOP's time standard of steps 4 to 6)."
        ),
        "statistik_hidden": "{n} OPDs with fewer than {min} complaints are not shown.",
        "statistik_none": "No complaints in this period yet.",
    },
}
