"""Import errors that stop a whole run (a bad row never does: it is recorded and the rest continue)."""

from __future__ import annotations

from sscard.errors import Conflict, DomainError, ValidationFailed


class ImportFileUnreadable(ValidationFailed):
    code = "IMPORT_FILE_UNREADABLE"
    title = "The import file cannot be read."
    title_zh = "无法读取导入文件。"


class ImportFileEmpty(ValidationFailed):
    code = "IMPORT_FILE_EMPTY"
    title = "The import file is empty (it needs a header line)."
    title_zh = "导入文件为空（需要表头行）。"


class ImportHeaderInvalid(ValidationFailed):
    code = "IMPORT_HEADER_INVALID"
    title = "The header line of the import file is not valid."
    title_zh = "导入文件的表头无效。"


class ImportMissingColumns(ValidationFailed):
    code = "IMPORT_MISSING_COLUMNS"
    title = "The header lacks required columns."
    title_zh = "表头缺少必需的列。"


class ImportConcurrent(Conflict):
    code = "IMPORT_CONCURRENT"
    title = "Another process is importing the same file."
    title_zh = "另一个进程正在导入同一文件。"


class ImportJobNotFound(ValidationFailed):
    code = "IMPORT_JOB_NOT_FOUND"
    status = 404
    title = "No such import job."
    title_zh = "没有该导入任务。"


class ImportFileEncoding(ValidationFailed):
    code = "IMPORT_FILE_ENCODING"
    title = "The import file is not UTF-8."
    title_zh = "导入文件不是 UTF-8 编码。"


class ImportUnaccounted(DomainError):
    """The importer's own check: a job that cannot account for every line of its file is not finished."""

    code = "IMPORT_UNACCOUNTED"
    status = 500
    title = "The import cannot account for every line of the file."
    title_zh = "导入无法说明文件中每一行的去向。"
