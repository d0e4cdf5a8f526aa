"""The four source deliveries as source-contracts.md section 2 describes them: columns, required
columns, primary key, and which columns identify a person (for the "neither name nor NIK" rule)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceContract:
    name: str
    description: str
    primary_key: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    name_columns: tuple[str, ...]
    nik_columns: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


P2MI_PENEMPATAN = SourceContract(
    name="p2mi_penempatan",
    description="Migrant-worker placements (KemenP2MI), one row per placement.",
    primary_key="id_penempatan",
    required=(
        "id_penempatan", "nik", "nama_lengkap", "jenis_kelamin", "tanggal_lahir",
        "negara_penempatan", "status_penempatan",
    ),
    optional=(
        "no_paspor", "tempat_lahir", "alamat_asal", "kode_desa_asal", "kabkota_asal", "no_hp",
        "kode_negara", "jabatan", "sektor", "skema", "nama_p3mi", "tgl_berangkat",
        "tgl_akhir_kontrak", "tgl_pulang", "tgl_update",
    ),
    name_columns=("nama_lengkap",),
    nik_columns=("nik",),
)

P2MI_KASUS = SourceContract(
    name="p2mi_kasus",
    description="Complaints, repatriations and trafficking cases (KemenP2MI), one row per case.",
    primary_key="id_kasus",
    required=("id_kasus", "nama", "negara", "jenis_kasus", "tgl_pengaduan"),
    optional=(
        "id_penempatan", "nik", "no_paspor", "no_splp", "jenis_kelamin", "tanggal_lahir", "umur",
        "tempat_lahir", "daerah_asal", "indikasi_tppo", "prosedural", "tgl_kedatangan",
        "rujukan_kemensos", "sentra_rehab", "status_penanganan",
    ),
    name_columns=("nama",),
    nik_columns=("nik",),
)

DTSEN_INDIVIDU = SourceContract(
    name="dtsen_individu",
    description="DTSEN socio-economic registry (Kemensos/BPS), one row per person per family.",
    primary_key="id_individu",
    required=(
        "id_individu", "id_keluarga", "nik", "nama", "jenis_kelamin", "tanggal_lahir", "desil",
    ),
    optional=(
        "no_kk", "tempat_lahir", "hubungan_keluarga", "pekerjaan", "alamat", "kode_desa",
        "penerima_pkh", "penerima_sembako", "penerima_pbi_jk", "disabilitas", "periode",
        "status_keberadaan",
    ),
    name_columns=("nama",),
    nik_columns=("nik",),
)

SR_SISWA = SourceContract(
    name="sr_siswa",
    description="Sekolah Rakyat enrolment (Kemensos), one row per student enrolment.",
    primary_key="id_siswa",
    required=(
        "id_siswa", "nama_siswa", "jenis_kelamin", "tanggal_lahir", "nama_sekolah", "jenjang",
        "status_siswa",
    ),
    optional=(
        "nisn", "nik", "no_kk", "tempat_lahir", "kode_sekolah", "tingkat", "tgl_masuk",
        "desil_saat_seleksi", "nama_ayah", "nik_ayah", "nama_ibu", "nik_ibu", "nama_wali",
        "nik_wali", "ortu_pmi", "kelas_migran", "km_bahasa", "km_negara_tujuan",
    ),
    name_columns=("nama_siswa",),
    nik_columns=("nik",),
)

CONTRACTS: dict[str, SourceContract] = {
    c.name: c for c in (P2MI_PENEMPATAN, P2MI_KASUS, DTSEN_INDIVIDU, SR_SISWA)
}
SOURCE_NAMES: tuple[str, ...] = tuple(CONTRACTS)
