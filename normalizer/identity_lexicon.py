"""Words the identity reader knows: label spellings, address words, place names, stop words.

Data, not logic: :mod:`normalizer.identity_text` decides what to do with them. Every list is
lower case; spellings are regular expressions so that "no. hp", "no hp" and "nohp" are one entry.
"""

from __future__ import annotations

# Label spellings per field, as citizens write them in Indonesian and English. Longer
# spellings first: at one position the regex alternation takes the first that matches, so
# "no hp" wins over "hp" and "nama lengkap" over "nama".
LABELS: dict[str, tuple[str, ...]] = {
    "nik": (
        r"nomor\s+induk\s+kependudukan",
        r"no\.?\s*induk\s+kependudukan",
        r"(?:no|nomor|nmr)\.?\s*(?:nik|e-?ktp|ktp)",
        r"nik\s+ktp",
        r"nik",
        r"e-?ktp",
        r"ktp",
        r"(?:national\s+)?id(?:entity)?\s+(?:number|no\.?)",
        r"nomor\s+identitas",
    ),
    "name": (
        r"nama\s+lengkap",
        r"nama\s+pelapor",
        r"pelapor",
        r"full\s+name",
        r"my\s+name\s+is",
        r"saya\s+bernama",
        r"perkenalkan",
        r"atas\s+nama",
        r"nama",
        r"name",
        r"nm",
        r"a\.\s?n\.?",
        r"a/n",
    ),
    "address": (
        r"alamat\s+(?:rumah|lengkap|tinggal)",
        r"alamat",
        r"almt",
        r"address",
        r"(?:bertempat\s+)?tinggal\s+di",
        r"beralamat\s+di",
        r"berdomisili\s+di",
        r"domisili",
        r"rumah\s+(?:saya\s+|sy\s+)?di",
        r"rumah(?=\s+(?:jl|jln|jalan|gg|gang)\b)",
        r"i\s+live\s+(?:at|in|on)",
        r"living\s+at",
        r"warga",
    ),
    "phone": (
        r"(?:no|nomor|nmr)\.?\s*(?:telp|telepon|tlp|hp|handphone|wa|whatsapp|ponsel)",
        r"telepon",
        r"telp",
        r"tlp",
        r"handphone",
        r"ponsel",
        r"hp",
        r"whatsapp",
        r"wa",
        r"kontak",
        r"hubungi",
        r"phone(?:\s+number)?",
        r"mobile",
        r"call\s+me\s+at",
    ),
    "email": (r"e-?mail(?:\s+address)?", r"surel"),
    "text": (
        r"isi\s+(?:laporan|pengaduan|keluhan|aduan)",
        r"isi",
        r"keluhan",
        r"laporan",
        r"lapor",
        r"aduan",
        r"pengaduan",
        r"masalah",
        r"complaint",
        r"report",
        r"problem",
    ),
    # "Identitas: Nama / NIK / Alamat" — the parts are told apart by their shape.
    "identity": (r"identitas", r"data\s+(?:diri|pelapor)", r"identity"),
    # Weak name labels: "saya Budi" is a name, "saya mau lapor" is not; the reader asks more of
    # what follows them (capitalised words in mixed-case text).
    "self": (r"saya", r"sy", r"aku", r"i\s+am", r"i'm", r"i’m"),
}

# Words that may stand between a label and its value: "NIK saya 3271...", "wa sy 0812...".
FILLERS = ("saya", "sy", "aku", "ku", "kami", "my", "is", "di")

# Street markers: the words after them are the street's name, whatever their case.
STREET_MARKERS = frozenset({"jl", "jln", "jalan", "gg", "gang", "street", "st", "road", "rd"})

# Area markers: the next capitalised words are the area's name ("Kel. Tanah Baru").
AREA_MARKERS = frozenset(
    {
        "kel",
        "kelurahan",
        "kec",
        "kecamatan",
        "desa",
        "ds",
        "kp",
        "kampung",
        "perum",
        "perumahan",
        "komplek",
        "kompleks",
        "komp",
        "villa",
        "griya",
        "blok",
        "rt",
        "rw",
        "kota",
        "kab",
        "kabupaten",
        "sektor",
        "cluster",
    }
)

# Words that may follow a house number and still be the address.
ADDRESS_WORDS = AREA_MARKERS | {
    "no",
    "nomor",
    "bogor",
    "selatan",
    "utara",
    "timur",
    "barat",
    "tengah",
    "raya",
    "indah",
    "ujung",
    "lantai",
    "lt",
    "kav",
    "jawa",
    "indonesia",
}

# Abbreviations that end in a dot without ending the sentence ("Jl. Dr. Semeru", "Hj. Euis").
ABBREVIATIONS = frozenset(
    STREET_MARKERS
    | AREA_MARKERS
    | {"no", "dr", "dra", "drs", "ir", "h", "hj", "prof", "moh", "muh", "m", "lt", "kav", "sdr", "sdri", "bpk", "yth"}
)

# Titles kept as part of a name; honorifics dropped from its front.
NAME_TITLES = frozenset({"dr", "dra", "drs", "ir", "h", "hj", "prof", "moh", "muh", "m"})
HONORIFICS = frozenset(
    {"bapak", "bpk", "ibu", "pak", "bu", "sdr", "sdri", "saudara", "saudari", "mr", "mrs", "ms", "miss", "kak", "mas"}
)

# Kota Bogor's kecamatan and kelurahan names (Permendagri kode wilayah), as single words, so
# an address that goes on after the house number ("... 21 Tanah Sareal") is recognised.
PLACE_NAMES = frozenset(
    """
    bogor selatan timur tengah barat utara tanah sareal
    batutulis bondongan empang genteng kertamaya lawanggintung lawang gintung muarasari pakuan
    pamoyanan ranggamekar mulyaharja cikaret bojongkerta rancamaya harjasari cipaku
    baranangsiang katulampa sindangrasa sindangsari tajur sukasari
    paledang gudang babakan pasar tegallega sempur pabaton cibogor panaragan kebon kalapa ciwaringin
    pasir mulya kuda jaya gunung batu loji menteng cilendek sindangbarang sindang barang margajaya
    balumbang situgede situ gede bubulak semplak curugmekar curug mekar
    bantarjati tegal gundil baru cimahpar ciluar cibuluh kedunghalang kedung halang ciparigi
    waringin kedungwaringin pedes badak sukaresmi sukadamai cibadak kayumanis mekarwangi kencana
    """.split()
)

# Words that never belong to a name or an address: they start the complaint or a sentence.
STOP_WORDS = frozenset(
    """
    di ke dari yang dan atau dengan untuk karena sejak sudah sdh belum blm tidak tdk ga gak nggak
    mau ingin minta mohon tolong ada adalah ini itu juga sangat banyak sering mengeluh mengeluhkan
    melaporkan melapor lapor laporan mengadukan menyampaikan menanyakan komplain
    jalan kelurahan kecamatan kantor warga rumah sekolah saya sy kami kita aku dia
    mati rusak banjir sampah lampu got macet parkir
    and the a an from in at on to of with is was please who
    min admin pak bu bapak ibu kak no nomor nmr
    """.split()
)

# Organisations and roles that close an e-mail but are not a person's name.
NOT_NAMES = frozenset(
    {"tim", "redaksi", "dinas", "pt", "cv", "kantor", "humas", "admin", "ketua", "sent", "dikirim"}
    # offices: "Nama Wali Kota Bogor siapa?" asks for a name, it does not give one
    | {"wali", "walikota", "camat", "lurah", "bupati", "gubernur", "presiden", "menteri", "kepala", "direktur"}
    | {"pejabat", "petugas", "pegawai", "sekda", "kadis"}
)

# A line that closes a letter: the signature (name, phone, address) follows it.
CLOSINGS = (
    r"salam(?:\s+hormat)?",
    r"hormat\s+(?:saya|kami)",
    r"wassalam\w*(?:\s+wr\.?\s*wb\.?)?",
    r"terima\s*kasih",
    r"(?:best\s+|kind\s+|warm\s+)?regards",
    r"thanks?(?:\s+you)?",
    r"sincerely",
    r"cheers",
)

# part-parserfix (issue 13): words that say a number or a value belongs to someone else.

# Someone other than the writer, or a document that is not the writer's KTP: a NIK, phone or
# e-mail in the same sentence after one of these is theirs ("NIK ibu saya 3271...", "Pak RT
# nomor HP 0812...", "Nomor KK 3271..."). Regular expressions, matched as whole words. "ibu",
# "bapak", "anak" are also honorifics or common words, so they count only with a possessive.
THIRD_PARTY = (
    r"(?:ibu|bapak|bpk|ayah|bapa|mama|papa|anak|adik|adek|kakak|abang|saudara|sodara|orang\s*tua|ortu"
    r"|nenek|kakek|paman|bibi|tante|keponakan|cucu|teman|kawan|keluarga)\s+(?:saya|sy|aku|kami|ku)",
    r"(?:pak|bu|bapak|ibu|ketua)\s+(?:rt|rw)",
    r"suami\w*|istri\w*|isteri\w*|mertua\w*|tetangga\w*|almarhum\w*|alm",
    r"lurah|camat|petugas|pegawai|oknum|pelaku|pemilik|penjual|sopir|supir|satpam|tukang|kurir|developer",
    r"kk|kartu\s+keluarga|bpjs|kis|pbb|nop|sertifikat|shm|npwp|rekening|rek|stnk|bpkb|pelanggan",
)

# Words that say who the writer is ("saya ... NIK 3271..."): an unlabelled NIK after one of
# these in the same sentence is the writer's.
SELF_WORDS = frozenset({"saya", "sy", "aku", "i", "my"})

# Capitalised words after "Saya" that describe the writer or start a sentence, not a name:
# "Saya Kecewa dengan ...", "Saya Mahasiswa IPB", "Saya Warga Bogor".
NOT_SELF_NAMES = frozenset(
    """
    kecewa sedih senang bingung marah kesal heran takut khawatir prihatin malu resah bangga puas
    merasa mohon minta ingin mau hendak akan sedang sudah telah baru hanya cuma juga selalu sering
    terpaksa terganggu terkejut tertipu dirugikan menyesal setuju bersyukur berharap bertanya
    berterima sangat amat benar tidak belum bukan adalah ialah
    mahasiswa mahasiswi pelajar siswa siswi guru dosen pedagang petani nelayan buruh karyawan
    karyawati pegawai pensiunan pengusaha pengemudi sopir supir ojol driver wiraswasta ibu bapak
    warga penduduk masyarakat rakyat orang pelanggan pengguna penumpang pasien wali orangtua
    anggota ketua pengurus relawan perwakilan korban
    """.split()
)

# Words after "nama"/"atas nama" that are no one's name: "Atas nama keadilan", "papan nama
# hilang", and lines under a closing that are no signature ("TTD", "Tolong segera ya").
NOT_NAME_WORDS = frozenset(
    """
    keadilan kemanusiaan keluarga masyarakat warga rakyat pribadi baik besar hilang rusak
    dirahasiakan disamarkan anonim anonymous rahasia lengkap program aplikasi jalan
    ttd tertanda salam tolong mohon segera terima kasih wassalam hormat
    """.split()
)

# Parts of an address that alone do not make one: "tinggal di Bogor", "warga Kota Bogor".
BARE_PLACES = frozenset({"bogor", "kota", "kab", "kabupaten", "jakarta", "depok", "tangerang", "bekasi", "indonesia"})
