/* Language table: the languages mParaRel has patterns for, with family and branch. */
#include <string.h>

#include "mt_data.h"

static const mt_data_lang langs[] = {
    {"af", "af", "Afrikaans", "Indo-European", "Germanic", 0},
    {"ar", "ar", "Arabic", "Afro-Asiatic", "Semitic", 0},
    {"az", "az", "Azerbaijani", "Turkic", "Oghuz", 0},
    {"bg", "bg", "Bulgarian", "Indo-European", "Slavic", 0},
    {"bn", "bn", "Bengali", "Indo-European", "Indo-Aryan", 0},
    {"ca", "ca", "Catalan", "Indo-European", "Romance", 0},
    {"cs", "cs", "Czech", "Indo-European", "Slavic", 0},
    {"cy", "cy", "Welsh", "Indo-European", "Celtic", 0},
    {"da", "da", "Danish", "Indo-European", "Germanic", 0},
    {"de", "de", "German", "Indo-European", "Germanic", 0},
    {"el", "el", "Greek", "Indo-European", "Hellenic", 0},
    {"en", "en", "English", "Indo-European", "Germanic", 0},
    {"es", "es", "Spanish", "Indo-European", "Romance", 0},
    {"et", "et", "Estonian", "Uralic", "Finnic", 0},
    {"fa", "fa", "Persian", "Indo-European", "Iranian", 0},
    {"fi", "fi", "Finnish", "Uralic", "Finnic", 0},
    {"fr", "fr", "French", "Indo-European", "Romance", 0},
    {"ga", "ga", "Irish", "Indo-European", "Celtic", 0},
    {"gl", "gl", "Galician", "Indo-European", "Romance", 0},
    {"he", "he", "Hebrew", "Afro-Asiatic", "Semitic", 0},
    {"hr", "hr", "Croatian", "Indo-European", "Slavic", 0},
    {"hu", "hu", "Hungarian", "Uralic", "Ugric", 0},
    {"hy", "hy", "Armenian", "Indo-European", "Armenian", 0},
    {"id", "id", "Indonesian", "Austronesian", "Malayic", 0},
    {"is", "is", "Icelandic", "Indo-European", "Germanic", 0},
    {"it", "it", "Italian", "Indo-European", "Romance", 0},
    {"ja", "ja", "Japanese", "Japonic", "Japanese", 1},
    {"ko", "ko", "Korean", "Koreanic", "Korean", 0},
    {"lt", "lt", "Lithuanian", "Indo-European", "Baltic", 0},
    {"lv", "lv", "Latvian", "Indo-European", "Baltic", 0},
    {"ms", "ms", "Malay", "Austronesian", "Malayic", 0},
    {"nl", "nl", "Dutch", "Indo-European", "Germanic", 0},
    {"pl", "pl", "Polish", "Indo-European", "Slavic", 0},
    {"pt", "pt", "Portuguese", "Indo-European", "Romance", 0},
    {"ro", "ro", "Romanian", "Indo-European", "Romance", 0},
    {"ru", "ru", "Russian", "Indo-European", "Slavic", 0},
    {"sk", "sk", "Slovak", "Indo-European", "Slavic", 0},
    {"sl", "sl", "Slovenian", "Indo-European", "Slavic", 0},
    {"sq", "sq", "Albanian", "Indo-European", "Albanian", 0},
    {"sv", "sv", "Swedish", "Indo-European", "Germanic", 0},
    {"th", "th", "Thai", "Kra-Dai", "Tai", 0},
    {"tr", "tr", "Turkish", "Turkic", "Oghuz", 0},
    {"uk", "uk", "Ukrainian", "Indo-European", "Slavic", 0},
    {"vi", "vi", "Vietnamese", "Austroasiatic", "Vietic", 0},
    {"zh", "zh-hans", "Chinese (simplified)", "Sino-Tibetan", "Sinitic", 1},
};

const mt_data_lang *mt_data_lang_find(const char *code) {
    for (size_t i = 0; i < sizeof langs / sizeof *langs; i++)
        if (!strcmp(langs[i].code, code)) return &langs[i];
    return NULL;
}
