/*
 * The demo market (see seed.h): the tables that describe it, the SQL that loads it, and the
 * credentials file. The tables are the whole truth about the data; every per-row variation
 * (prices, stock, phones, licence numbers, dates) comes from mix() of the row's index, so two
 * fresh databases get the same market, apart from passwords and dates relative to today.
 * Single-threaded CLI use; nothing here is kept between calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "models/cachever.h"
#include "models/seed.h"
#include "models/user.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------------------------
 * The market */

static const char m1_name[] = "郑州市二七区兴华农贸市场";
static const char m1_address[] = "河南省郑州市二七区兴华南街126号";
static const char m1_lat[] = "34.724310";
static const char m1_lng[] = "113.641520";
static const char m1_area[] = "410103"; /* GB/T 2260: 郑州市二七区 */
static const char m1_intro[] = "兴华农贸市场位于郑州市二七区兴华南街与航海中路交叉口北100米，始建于1998年，2021年完成"
                               "标准化改造，建筑面积约4200平方米，设蔬菜区、水果区、肉类区、水产区、粮油区和蛋禽区六个"
                               "经营区，44个摊位。市场实行统一电子计量、农残快检每日公示、肉菜追溯和明码标价，周边"
                               "3公里内居民可在线下单，由市场配送员送菜到家。";
static const char *const m1_honours[] = {"郑州市标准化农贸市场", "河南省放心农贸市场", "郑州市智慧农贸市场示范点",
                                         "二七区文明诚信市场"};
static const char m1_rules[] = "一、经营户须亮证亮照经营，从业人员持有效健康证明上岗。\n"
                               "二、所有商品明码标价，使用市场统一检定的电子秤，短斤少两一经查实按市场管理规定处理。\n"
                               "三、肉类须附动物检疫合格证明，水产品、禽蛋须索证索票，做到来源可追溯。\n"
                               "四、蔬菜水果每日抽检农药残留，检测结果在市场大屏公示。\n"
                               "五、消费者投诉请拨打市场服务电话0371-68123456，或在线上提交，市场在24小时内答复。";
static const char m1_hours[] = "06:00-20:00";

/* ---------------------------------------------------------------------------------------
 * Categories: the market's shelves, each with the commodity class it holds (seed.h). */

typedef struct category {
    const char *code;
    const char *name;
    const char *commodity; /* class code; every product's code begins with it */
    const char *parent;
} category_t;

static const category_t categories[] = {
    {"veg", "蔬菜", "0104", NULL},
    {"veg-leafy", "叶菜类", "010409", "veg"},
    {"veg-root", "根茎类", "010401", "veg"},
    {"veg-solanaceous", "茄果类", "010405", "veg"},
    {"veg-melon", "瓜类", "010407", "veg"},
    {"veg-bean", "豆类", "010406", "veg"},
    {"veg-allium", "葱蒜类", "010408", "veg"},
    {"veg-fungi", "菌菇类", "0106", "veg"},
    {"fruit", "水果", "0103", NULL},
    {"fruit-pome", "仁果类", "010301", "fruit"},
    {"fruit-stone", "核果类", "010302", "fruit"},
    {"fruit-berry", "浆果类", "010303", "fruit"},
    {"fruit-citrus", "柑橘类", "010304", "fruit"},
    {"fruit-melon", "瓜果类", "010309", "fruit"},
    {"fruit-tropical", "热带水果", "010310", "fruit"},
    {"meat", "肉类", "0201", NULL},
    {"meat-pork", "猪肉", "020101", "meat"},
    {"meat-beef-mutton", "牛羊肉", "020102", "meat"},
    {"meat-poultry", "禽肉", "020103", "meat"},
    {"egg", "蛋类", "0202", NULL},
    {"egg-fresh", "鲜蛋", "020201", "egg"},
    {"egg-processed", "蛋制品", "020202", "egg"},
    {"aquatic", "水产品", "03", NULL},
    {"aquatic-fish", "淡水鱼", "030101", "aquatic"},
    {"aquatic-seafish", "海水鱼", "030201", "aquatic"},
    {"aquatic-shrimp-crab", "虾蟹类", "030202", "aquatic"},
    {"aquatic-shellfish", "贝类", "030203", "aquatic"},
    {"grain-oil", "粮油", "01", NULL},
    {"grain-cereal", "米面", "010101", "grain-oil"},
    {"grain-coarse", "杂粮杂豆", "010105", "grain-oil"},
    {"grain-edible-oil", "食用油", "010201", "grain-oil"},
    {"grain-soy", "豆制品", "0107", "grain-oil"},
};

/* ---------------------------------------------------------------------------------------
 * Commodities: what the stalls sell. price is the typical retail price in fen per 500 g
 * (weight, unit NULL) or per unit (count), late autumn in Zhengzhou; stock is in kg or
 * pieces; origin is a GB/T 2260 code. */

typedef struct commodity {
    const char *code; /* 13 digits */
    const char *name;
    const char *category;
    const char *unit; /* NULL: sold by weight */
    int price;
    int stock_lo, stock_hi;
    const char *origin;
} commodity_t;

static const commodity_t commodities[] = {
    /* 叶菜类 */
    {"0104090101001", "大白菜", "veg-leafy", NULL, 150, 100, 400, "410122"},
    {"0104090101002", "小白菜", "veg-leafy", NULL, 300, 20, 60, "410100"},
    {"0104090101003", "上海青", "veg-leafy", NULL, 350, 20, 60, "410100"},
    {"0104090101004", "娃娃菜", "veg-leafy", "袋", 500, 30, 120, "530400"},
    {"0104090201001", "菠菜", "veg-leafy", NULL, 500, 20, 80, "410122"},
    {"0104090301001", "油麦菜", "veg-leafy", NULL, 400, 20, 60, "410100"},
    {"0104090301002", "生菜", "veg-leafy", NULL, 450, 20, 60, "410100"},
    {"0104090401001", "芹菜", "veg-leafy", NULL, 350, 30, 100, "410122"},
    {"0104090501001", "香菜", "veg-leafy", NULL, 1000, 5, 20, "410100"},
    {"0104090601001", "圆白菜", "veg-leafy", NULL, 200, 50, 200, "410122"},
    {"0104090601002", "西兰花", "veg-leafy", NULL, 650, 20, 80, "331000"},
    {"0104090601003", "菜花", "veg-leafy", NULL, 400, 20, 80, "410122"},
    {"0104090701001", "茼蒿", "veg-leafy", NULL, 600, 10, 30, "410100"},
    /* 根茎类 */
    {"0104010101001", "土豆", "veg-root", NULL, 230, 100, 400, "150900"},
    {"0104010201001", "胡萝卜", "veg-root", NULL, 250, 50, 200, "410200"},
    {"0104010201002", "白萝卜", "veg-root", NULL, 150, 50, 200, "410122"},
    {"0104010301001", "红薯", "veg-root", NULL, 300, 50, 200, "410181"},
    {"0104010401001", "铁棍山药", "veg-root", NULL, 1500, 20, 80, "410825"},
    {"0104010501001", "莲藕", "veg-root", NULL, 500, 30, 120, "420100"},
    {"0104010601001", "生姜", "veg-root", NULL, 750, 20, 80, "370784"},
    {"0104010701001", "芋头", "veg-root", NULL, 600, 20, 80, "371300"},
    {"0104010801001", "莴笋", "veg-root", NULL, 350, 20, 80, "410100"},
    /* 茄果类 */
    {"0104050101001", "西红柿", "veg-solanaceous", NULL, 400, 50, 200, "370783"},
    {"0104050101002", "圣女果", "veg-solanaceous", NULL, 750, 20, 60, "460100"},
    {"0104050201001", "茄子", "veg-solanaceous", NULL, 380, 30, 120, "370783"},
    {"0104050301001", "青椒", "veg-solanaceous", NULL, 420, 30, 120, "370783"},
    {"0104050301002", "尖椒", "veg-solanaceous", NULL, 550, 20, 80, "370783"},
    {"0104050301003", "彩椒", "veg-solanaceous", NULL, 750, 10, 40, "370783"},
    /* 瓜类 */
    {"0104070101001", "黄瓜", "veg-melon", NULL, 380, 50, 200, "370783"},
    {"0104070201001", "冬瓜", "veg-melon", NULL, 140, 100, 300, "410122"},
    {"0104070301001", "南瓜", "veg-melon", NULL, 200, 50, 200, "410100"},
    {"0104070401001", "西葫芦", "veg-melon", NULL, 300, 30, 120, "410122"},
    {"0104070501001", "丝瓜", "veg-melon", NULL, 500, 20, 60, "410100"},
    {"0104070601001", "苦瓜", "veg-melon", NULL, 600, 10, 40, "460100"},
    /* 豆类 */
    {"0104060101001", "豆角", "veg-bean", NULL, 700, 20, 80, "410100"},
    {"0104060101002", "四季豆", "veg-bean", NULL, 650, 20, 60, "410100"},
    {"0104060201001", "荷兰豆", "veg-bean", NULL, 1100, 10, 40, "530100"},
    {"0104060301001", "毛豆", "veg-bean", NULL, 600, 10, 40, "410100"},
    /* 葱蒜类 */
    {"0104080101001", "大葱", "veg-allium", NULL, 300, 50, 200, "370114"},
    {"0104080201001", "大蒜", "veg-allium", NULL, 600, 30, 120, "410122"},
    {"0104080202001", "蒜苔", "veg-allium", NULL, 750, 20, 60, "410122"},
    {"0104080301001", "洋葱", "veg-allium", NULL, 200, 50, 200, "410122"},
    {"0104080401001", "韭菜", "veg-allium", NULL, 500, 20, 60, "410100"},
    /* 菌菇类 */
    {"0106010101001", "香菇", "veg-fungi", NULL, 1000, 10, 40, "411323"},
    {"0106010102001", "平菇", "veg-fungi", NULL, 500, 10, 40, "410100"},
    {"0106010103001", "杏鲍菇", "veg-fungi", NULL, 700, 10, 40, "410100"},
    {"0106010104001", "金针菇", "veg-fungi", "袋", 300, 50, 200, "410100"},
    {"0106010105001", "白玉菇", "veg-fungi", "盒", 500, 30, 100, "410100"},
    {"0106010106001", "茶树菇", "veg-fungi", NULL, 1600, 5, 20, "361030"},
    {"0106020101001", "鲜木耳", "veg-fungi", NULL, 1200, 5, 20, "410100"},
    /* 水果 */
    {"0103010101001", "富士苹果", "fruit-pome", NULL, 650, 50, 200, "610629"},
    {"0103010102001", "嘎啦苹果", "fruit-pome", NULL, 550, 30, 120, "370600"},
    {"0103010201001", "砀山酥梨", "fruit-pome", NULL, 400, 50, 200, "341321"},
    {"0103010202001", "库尔勒香梨", "fruit-pome", NULL, 850, 30, 100, "652801"},
    {"0103010301001", "山楂", "fruit-pome", NULL, 600, 10, 30, "410581"},
    {"0103020101001", "冬枣", "fruit-stone", NULL, 1200, 20, 60, "371603"},
    {"0103020102001", "新郑红枣", "fruit-stone", NULL, 2000, 10, 40, "410184"},
    {"0103020201001", "柿子", "fruit-stone", NULL, 500, 20, 60, "410182"},
    {"0103020301001", "河阴石榴", "fruit-stone", NULL, 1000, 20, 80, "410182"},
    {"0103030101001", "巨峰葡萄", "fruit-berry", NULL, 1000, 20, 80, "410700"},
    {"0103030101002", "阳光玫瑰葡萄", "fruit-berry", NULL, 1800, 20, 60, "532500"},
    {"0103030201001", "猕猴桃", "fruit-berry", NULL, 900, 20, 80, "610124"},
    {"0103030301001", "草莓", "fruit-berry", "盒", 2200, 10, 40, "410122"},
    {"0103030401001", "蓝莓", "fruit-berry", "盒", 1800, 10, 40, "530100"},
    {"0103040101001", "赣南脐橙", "fruit-citrus", NULL, 700, 50, 200, "360700"},
    {"0103040201001", "砂糖橘", "fruit-citrus", NULL, 600, 50, 200, "450300"},
    {"0103040202001", "沃柑", "fruit-citrus", NULL, 800, 30, 120, "450100"},
    {"0103040301001", "蜜柚", "fruit-citrus", "个", 1000, 20, 80, "350628"},
    {"0103040401001", "柠檬", "fruit-citrus", "个", 150, 50, 200, "512021"},
    {"0103090101001", "西瓜", "fruit-melon", "个", 3200, 10, 40, "460100"},
    {"0103090201001", "哈密瓜", "fruit-melon", NULL, 600, 20, 80, "650500"},
    {"0103100101001", "香蕉", "fruit-tropical", "把", 1500, 20, 60, "532800"},
    {"0103100201001", "芒果", "fruit-tropical", NULL, 900, 20, 80, "460200"},
    {"0103100301001", "菠萝", "fruit-tropical", "个", 1000, 20, 60, "440825"},
    {"0103100401001", "火龙果", "fruit-tropical", NULL, 850, 20, 80, "460100"},
    {"0103100501001", "椰青", "fruit-tropical", "个", 1000, 10, 40, "460100"},
    /* 猪肉 */
    {"0201010101001", "猪五花肉", "meat-pork", NULL, 1550, 20, 80, "411300"},
    {"0201010102001", "猪里脊", "meat-pork", NULL, 1650, 10, 40, "411300"},
    {"0201010103001", "猪后腿肉", "meat-pork", NULL, 1350, 20, 80, "411300"},
    {"0201010104001", "猪前腿肉", "meat-pork", NULL, 1300, 20, 80, "411300"},
    {"0201010105001", "梅花肉", "meat-pork", NULL, 1650, 10, 40, "411300"},
    {"0201010106001", "猪肉馅", "meat-pork", NULL, 1400, 10, 40, "411300"},
    {"0201010201001", "排骨", "meat-pork", NULL, 2300, 20, 60, "411300"},
    {"0201010202001", "筒骨", "meat-pork", NULL, 1000, 10, 40, "411300"},
    {"0201010301001", "猪蹄", "meat-pork", NULL, 1350, 10, 40, "411300"},
    {"0201010401001", "猪肝", "meat-pork", NULL, 900, 5, 20, "411300"},
    /* 牛羊肉 */
    {"0201020101001", "牛腱子", "meat-beef-mutton", NULL, 4400, 10, 40, "150100"},
    {"0201020102001", "牛腩", "meat-beef-mutton", NULL, 4100, 10, 40, "150100"},
    {"0201020103001", "牛里脊", "meat-beef-mutton", NULL, 5000, 5, 20, "150100"},
    {"0201020104001", "牛肉馅", "meat-beef-mutton", NULL, 3700, 5, 20, "150100"},
    {"0201020105001", "牛肚", "meat-beef-mutton", NULL, 3500, 5, 20, "150100"},
    {"0201020201001", "羊肉卷", "meat-beef-mutton", NULL, 3900, 10, 40, "150800"},
    {"0201020202001", "羊排", "meat-beef-mutton", NULL, 4500, 10, 40, "150800"},
    {"0201020203001", "羊腿", "meat-beef-mutton", NULL, 4100, 10, 40, "650100"},
    {"0201020204001", "羊蝎子", "meat-beef-mutton", NULL, 2800, 10, 40, "150100"},
    /* 禽肉 */
    {"0201030101001", "鸡胸肉", "meat-poultry", NULL, 1150, 10, 50, "410100"},
    {"0201030102001", "鸡腿", "meat-poultry", NULL, 1150, 10, 50, "410100"},
    {"0201030103001", "鸡翅中", "meat-poultry", NULL, 2500, 10, 40, "410100"},
    {"0201030104001", "鸡爪", "meat-poultry", NULL, 1700, 10, 40, "410100"},
    {"0201030105001", "三黄鸡", "meat-poultry", "只", 5200, 10, 40, "410100"},
    {"0201030106001", "老母鸡", "meat-poultry", "只", 8000, 5, 20, "411525"},
    {"0201030201001", "鸭腿", "meat-poultry", NULL, 1000, 10, 40, "410100"},
    /* 蛋类 */
    {"0202010101001", "鸡蛋", "egg-fresh", NULL, 500, 50, 200, "410100"},
    {"0202010101002", "盒装鸡蛋（30枚）", "egg-fresh", "盒", 2500, 20, 80, "410100"},
    {"0202010102001", "固始土鸡蛋", "egg-fresh", "个", 120, 100, 500, "411525"},
    {"0202010201001", "鸭蛋", "egg-fresh", NULL, 800, 20, 80, "410100"},
    {"0202010301001", "鹌鹑蛋", "egg-fresh", NULL, 900, 10, 40, "410100"},
    {"0202020101001", "咸鸭蛋", "egg-processed", "个", 250, 100, 300, "420100"},
    {"0202020201001", "松花蛋", "egg-processed", "个", 200, 100, 300, "410100"},
    /* 水产品 */
    {"0301010101001", "草鱼", "aquatic-fish", NULL, 950, 30, 120, "410100"},
    {"0301010102001", "鲤鱼", "aquatic-fish", NULL, 1100, 30, 120, "410100"},
    {"0301010103001", "鲫鱼", "aquatic-fish", NULL, 1200, 20, 80, "410100"},
    {"0301010104001", "花鲢", "aquatic-fish", NULL, 800, 30, 100, "410100"},
    {"0301010105001", "黑鱼", "aquatic-fish", NULL, 1800, 10, 40, "440600"},
    {"0301010106001", "鲈鱼", "aquatic-fish", NULL, 2400, 10, 40, "440400"},
    {"0302010101001", "带鱼", "aquatic-seafish", NULL, 3000, 10, 40, "330900"},
    {"0302010102001", "黄花鱼", "aquatic-seafish", NULL, 2500, 10, 40, "350900"},
    {"0302010103001", "鲅鱼", "aquatic-seafish", NULL, 1800, 10, 40, "370200"},
    {"0302020101001", "基围虾", "aquatic-shrimp-crab", NULL, 4800, 10, 30, "440800"},
    {"0302020102001", "南美白对虾", "aquatic-shrimp-crab", NULL, 3200, 10, 40, "440800"},
    {"0302020201001", "梭子蟹", "aquatic-shrimp-crab", NULL, 5000, 5, 20, "330900"},
    {"0302030101001", "花蛤", "aquatic-shellfish", NULL, 1000, 10, 40, "370200"},
    {"0302030201001", "扇贝", "aquatic-shellfish", NULL, 1200, 10, 40, "370200"},
    {"0302030301001", "生蚝", "aquatic-shellfish", "个", 400, 50, 200, "440800"},
    {"0302030401001", "蛏子", "aquatic-shellfish", NULL, 1800, 5, 20, "330200"},
    /* 粮油 */
    {"0101010101001", "五常大米", "grain-cereal", NULL, 450, 200, 1000, "230184"},
    {"0101010102001", "原阳大米", "grain-cereal", NULL, 380, 200, 800, "410725"},
    {"0101010201001", "面粉", "grain-cereal", NULL, 240, 200, 1000, "410100"},
    {"0101010202001", "特一粉（5kg）", "grain-cereal", "袋", 2900, 20, 80, "410100"},
    {"0101010301001", "挂面", "grain-cereal", "袋", 600, 30, 120, "410100"},
    {"0101010302001", "鲜面条", "grain-cereal", NULL, 300, 20, 60, "410100"},
    {"0101050101001", "小米", "grain-coarse", NULL, 750, 50, 200, "140430"},
    {"0101050201001", "玉米糁", "grain-coarse", NULL, 380, 50, 200, "410100"},
    {"0101050301001", "绿豆", "grain-coarse", NULL, 900, 20, 80, "220800"},
    {"0101050302001", "红豆", "grain-coarse", NULL, 1050, 20, 80, "230100"},
    {"0101050303001", "黄豆", "grain-coarse", NULL, 600, 20, 80, "230100"},
    {"0101050401001", "黑米", "grain-coarse", NULL, 800, 20, 60, "610700"},
    {"0102010101001", "花生油（5L）", "grain-edible-oil", "桶", 11000, 10, 40, "370600"},
    {"0102010201001", "菜籽油（5L）", "grain-edible-oil", "桶", 7500, 10, 40, "510100"},
    {"0102010301001", "小磨香油", "grain-edible-oil", "瓶", 3000, 20, 60, "411700"},
    {"0102010401001", "大豆油（5L）", "grain-edible-oil", "桶", 6500, 10, 40, "230100"},
    {"0107010101001", "豆腐", "grain-soy", "块", 250, 20, 100, "410100"},
    {"0107010201001", "豆腐皮", "grain-soy", NULL, 900, 5, 20, "410100"},
    {"0107010301001", "腐竹", "grain-soy", NULL, 1800, 5, 20, "410100"},
    {"0107010401001", "千张", "grain-soy", NULL, 800, 5, 20, "410100"},
    {"0107010501001", "油豆腐", "grain-soy", NULL, 1000, 5, 20, "410100"},
};

/* ---------------------------------------------------------------------------------------
 * Stalls: the market's six zones, in groups of stalls that sell the same kind of goods. */

typedef struct stall_group {
    char letter;  /* stall_no is <letter><NN> */
    int first, n; /* numbers first .. first + n - 1 */
    const char *zone;
    int map_row;              /* the map is a grid of 8 stalls a row, 10 units apart */
    const char *const *sells; /* category codes, NULL-terminated */
    const char *scope;        /* business scope (经营范围) */
    int food_licence;         /* 1: its vendors also hold a 食品经营许可证 */
    int trace;                /* 1: every product carries a trace code */
} stall_group_t;

static const char *const sells_veg[] = {"veg-leafy",  "veg-root", "veg-solanaceous", "veg-melon", "veg-bean",
                                        "veg-allium", NULL};
static const char *const sells_fungi_soy[] = {"veg-fungi", "grain-soy", NULL};
static const char *const sells_fruit[] = {"fruit-pome",  "fruit-stone",    "fruit-berry", "fruit-citrus",
                                          "fruit-melon", "fruit-tropical", NULL};
static const char *const sells_pork[] = {"meat-pork", NULL};
static const char *const sells_beef[] = {"meat-beef-mutton", NULL};
static const char *const sells_aquatic[] = {"aquatic-fish", "aquatic-seafish", "aquatic-shrimp-crab",
                                            "aquatic-shellfish", NULL};
static const char *const sells_grain[] = {"grain-cereal", "grain-coarse", "grain-edible-oil", NULL};
static const char *const sells_egg[] = {"egg-fresh", "egg-processed", "meat-poultry", NULL};

static const stall_group_t m1_groups[] = {
    {'A', 1, 12, "蔬菜区", 0, sells_veg, "新鲜蔬菜零售", 0, 0},
    {'A', 13, 2, "蔬菜区", 0, sells_fungi_soy, "食用菌、豆制品零售", 1, 0},
    {'B', 1, 8, "水果区", 2, sells_fruit, "新鲜水果零售", 0, 0},
    {'C', 1, 5, "肉类区", 3, sells_pork, "鲜猪肉零售（定点屠宰，检疫合格）", 1, 1},
    {'C', 6, 3, "肉类区", 3, sells_beef, "鲜冻牛羊肉零售（检疫合格）", 1, 1},
    {'D', 1, 6, "水产区", 4, sells_aquatic, "鲜活水产品、冷冻水产品零售", 1, 1},
    {'E', 1, 4, "粮油区", 5, sells_grain, "粮食、食用油、预包装食品零售", 1, 0},
    {'F', 1, 4, "蛋禽区", 6, sells_egg, "鲜禽蛋、冰鲜禽肉零售", 1, 1},
};

/* Stalls a vendor holds next to another one: the second trades under the first's vendor. */
static const char *const m1_pairs[][2] = {{"A08", "A07"}, {"C02", "C01"}};

/* A few prices far from the guide price, so the operator's anomaly list has work to do: the
 * first weight product of each of these stalls, at this percentage of its usual price. */
typedef struct anomaly {
    const char *stall_no;
    int pct;
} anomaly_t;

static const anomaly_t m1_anomalies[] = {{"A03", 40}, {"B05", 200}, {"C04", 35}, {"D02", 190}};

/* The operators (经营者) of the stalls, one per vendor, in stall order. */
static const char *const m1_vendor_names[] = {
    "王建国", "李秀英", "张伟",   "刘桂兰", "陈志强", "杨丽娟", "赵国庆", "黄淑芬", "周红梅", "吴建军", "徐春花",
    "孙玉兰", "马卫东", "朱海燕", "胡建华", "郭秀兰", "何志刚", "高翠花", "林国栋", "罗素梅", "郑建平", "梁小红",
    "谢德胜", "宋玉梅", "唐永强", "许桂芳", "韩振华", "冯淑珍", "邓建伟", "曹丽华", "彭志勇", "曾凤英", "肖海军",
    "田秀珍", "董明亮", "袁桂英", "潘建设", "于凤霞", "蒋国强", "蔡秀梅", "余春生", "杜丽萍", "叶长青", "程建新",
};

/* Their helpers at the stall (family members and hired hands). */
static const char *const staff_names[] = {
    "王小军", "李娜",   "张红霞", "刘鹏", "陈静", "杨帆", "赵丽", "黄磊", "周敏", "吴芳", "徐亮", "孙倩", "马丽",
    "朱军",   "胡晓燕", "郭强",   "何琳", "高勇", "林燕", "罗刚", "郑霞", "梁超", "谢婷", "宋涛", "唐敏", "许杰",
    "韩雪",   "冯磊",   "邓丽",   "曹阳", "彭丹", "曾伟", "肖红", "田亮", "董娟", "袁斌", "潘婷", "于洋", "蒋丽",
    "蔡明",   "余洁",   "杜鹏",   "叶青", "程丽", "魏东", "苏梅", "吕建", "丁香", "任杰", "沈琳",
};

typedef struct person {
    const char *name;
    const char *phone;
} person_t;

static const person_t m1_couriers[] = {
    {"刘洋", "13837156201"}, {"陈磊", "15093217745"}, {"张鹏", "18638092614"},
    {"李强", "13703865590"}, {"王超", "17719930482"}, {"赵鑫", "19937120876"},
};

static const char m1_operator[] = "兴华市场管理办公室";

typedef struct notice {
    const char *title;
    const char *body;
    int hours_ago;
} notice_t;

static const notice_t m1_notices[] = {
    {"关于冬季营业时间的通知",
     "自12月1日起，市场营业时间调整为06:00-20:00，线上订单截单时间为19:00。请各经营户合理安排进货，"
     "按时开门营业。",
     5},
    {"线上买菜、送菜到家服务上线",
     "市场线上商城已上线，支持微信小程序下单、按斤称重、多退少补，3公里内由市场配送员送达。欢迎广大居民"
     "体验，有问题请联系市场服务台。",
     52},
    {"市场消防安全检查公告",
     "市场将于本周三上午开展消防安全检查，请各经营户清理通道杂物，不得私拉乱接电线，检查期间正常营业。", 120},
};

/* ---------------------------------------------------------------------------------------
 * The second, smaller market: a neighbourhood market in another district, so that a
 * platform granted one market can be seen refused the other. Same commodities and category
 * tree, its own stalls, vendors, couriers and operator (logins prefixed "fengle."). */

static const char m2_name[] = "郑州市金水区丰乐农贸市场";
static const char m2_address[] = "河南省郑州市金水区丰乐路与文化路交叉口东50米";
static const char m2_lat[] = "34.793860";
static const char m2_lng[] = "113.661270";
static const char m2_area[] = "410105"; /* GB/T 2260: 郑州市金水区 */
static const char m2_intro[] =
    "丰乐农贸市场是金水区文化路街道的社区菜市场，2019年完成提质改造，营业面积约900平方米，设蔬菜、"
    "水果、肉类、水产和粮油蛋五个经营区，9个摊位。市场实行明码标价、统一电子计量和每日农残快检，周边"
    "2公里内居民可在线下单，由市场配送员送菜上门。";
static const char *const m2_honours[] = {"金水区标准化农贸市场", "郑州市放心消费示范单位"};
static const char m2_rules[] = "一、经营户亮证亮照经营，从业人员持健康证明上岗。\n"
                               "二、商品明码标价，使用市场统一检定的电子秤。\n"
                               "三、肉类、水产品、禽蛋索证索票，来源可追溯。\n"
                               "四、投诉电话0371-63920815，或在线上提交，市场24小时内答复。";
static const char m2_hours[] = "06:30-19:30";

static const stall_group_t m2_groups[] = {
    {'A', 1, 3, "蔬菜区", 0, sells_veg, "新鲜蔬菜零售", 0, 0},
    {'A', 4, 1, "蔬菜区", 0, sells_fungi_soy, "食用菌、豆制品零售", 1, 0},
    {'B', 1, 1, "水果区", 1, sells_fruit, "新鲜水果零售", 0, 0},
    {'C', 1, 1, "肉类区", 2, sells_pork, "鲜猪肉零售（定点屠宰，检疫合格）", 1, 1},
    {'C', 2, 1, "肉类区", 2, sells_beef, "鲜冻牛羊肉零售（检疫合格）", 1, 1},
    {'D', 1, 1, "水产区", 3, sells_aquatic, "鲜活水产品零售", 1, 1},
    {'E', 1, 1, "粮油蛋区", 4, sells_grain, "粮食、食用油零售", 1, 0},
};

static const char *const m2_pairs[][2] = {{"", ""}}; /* none: an empty stall number matches nothing */

static const anomaly_t m2_anomalies[] = {{"A02", 180}};

static const char *const m2_vendor_names[] = {"常保国", "范素芳", "贾志远", "段红英", "侯振军",
                                              "崔玉霞", "薛建中", "石丽君", "龚长海"};

static const person_t m2_couriers[] = {{"吕博", "15638215530"}, {"牛浩", "18937160274"}};

static const char m2_operator[] = "丰乐市场管理处";

static const notice_t m2_notices[] = {
    {"线上订单配送时间调整", "即日起线上订单配送时间为07:00-19:00，19:00以后的订单次日早上配送。", 20},
};

/* ---------------------------------------------------------------------------------------
 * The two markets as the code below reads them. */

typedef struct market_def {
    const char *code, *name, *address, *lat, *lng, *area, *intro;
    const char *const *honours;
    size_t nhonours;
    const char *rules, *hours;
    const stall_group_t *groups;
    size_t ngroups;
    const char *const (*pairs)[2];
    size_t npairs;
    const anomaly_t *anomalies;
    size_t nanomalies;
    const char *const *vendor_names;
    size_t nvendor_names;
    const person_t *couriers;
    size_t ncouriers;
    const char *operator_display;
    const notice_t *notices;
    size_t nnotices;
    const char *login_prefix;     /* of the usernames: "operator", "<prefix>vendor01", ... */
    int products_lo, products_hi; /* products a stall sells */
} market_def_t;

#define DEF_TABLE(t) t, NELEM(t)

static const market_def_t defs[SEED_MARKETS] = {
    {SEED_MARKET_CODE,
     m1_name,
     m1_address,
     m1_lat,
     m1_lng,
     m1_area,
     m1_intro,
     DEF_TABLE(m1_honours),
     m1_rules,
     m1_hours,
     DEF_TABLE(m1_groups),
     DEF_TABLE(m1_pairs),
     DEF_TABLE(m1_anomalies),
     DEF_TABLE(m1_vendor_names),
     DEF_TABLE(m1_couriers),
     m1_operator,
     DEF_TABLE(m1_notices),
     "",
     7,
     9},
    {SEED_MARKET2_CODE,
     m2_name,
     m2_address,
     m2_lat,
     m2_lng,
     m2_area,
     m2_intro,
     DEF_TABLE(m2_honours),
     m2_rules,
     m2_hours,
     DEF_TABLE(m2_groups),
     DEF_TABLE(m2_pairs),
     DEF_TABLE(m2_anomalies),
     DEF_TABLE(m2_vendor_names),
     DEF_TABLE(m2_couriers),
     m2_operator,
     DEF_TABLE(m2_notices),
     SEED_MARKET2_PREFIX,
     4,
     5},
};

/* ---------------------------------------------------------------------------------------
 * Variation: a fixed function of a row's index, so the demo data is the same every time. */

enum { SALT_STALL = 1, SALT_VENDOR, SALT_STAFF, SALT_PRODUCT, SALT_GUIDE, SALT_LICENCE };

static uint64_t mix(uint64_t x) /* splitmix64's finaliser */
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* A number in lo..hi for (salt, index, field). */
static int64_t vary(int salt, uint64_t index, int field, int64_t lo, int64_t hi)
{
    uint64_t h = mix(((uint64_t)salt << 56) ^ ((uint64_t)field << 40) ^ index);
    return lo + (int64_t)(h % (uint64_t)(hi - lo + 1));
}

/* Fen rounded to a price a stall would write on its board: whole 10 fen from 1 yuan up. */
static int64_t board_price(int64_t fen)
{
    if (fen < 100)
        return fen < 1 ? 1 : fen;
    return (fen + 5) / 10 * 10;
}

void seed_date(char out[11], int days)
{
    time_t t = time(NULL) + 8 * 3600 + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

int seed_password(char *out)
{
    static const char alphabet[] = SEED_PASSWORD_ALPHABET;
    const unsigned n = sizeof(alphabet) - 1;
    const unsigned limit = 256 / n * n; /* bytes at or above it would favour the first letters */
    size_t len = 0;
    unsigned char buf[32];
    while (len < SEED_PASSWORD_LEN) {
        if (RAND_bytes(buf, sizeof(buf)) != 1)
            return -1;
        for (size_t i = 0; i < sizeof(buf) && len < SEED_PASSWORD_LEN; i++)
            if (buf[i] < limit)
                out[len++] = alphabet[buf[i] % n];
    }
    out[len] = '\0';
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Creating the market: one transaction; `build_t` carries what the steps share. */

#define MAX_STALLS 64

typedef struct build {
    db_t *db;
    seed_t *s;
    const market_def_t *def;
    char today[11];
    char stamp[9]; /* today as YYYYMMDD, in trace codes */
    size_t nstalls, nproducts, nstaff;
    char stall_nos[MAX_STALLS][8];
    size_t stall_login[MAX_STALLS]; /* index into s->logins of the stall's vendor */
    char *err;
    size_t errlen;
} build_t;

#define D (b->def) /* the market being built */

static int fail(build_t *b, int rc, const char *what)
{
    snprintf(b->err, b->errlen, "%s: %s", what, rc == DB_DUP ? "already exists" : b->db->err);
    return rc;
}

static int insert_market(build_t *b)
{
    json_t *h = json_array();
    for (size_t i = 0; h != NULL && i < D->nhonours; i++)
        json_array_append_new(h, json_string(D->honours[i]));
    char *honours = h != NULL ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    if (honours == NULL) {
        snprintf(b->err, b->errlen, "out of memory");
        return DB_ERR;
    }
    uint64_t id = 0;
    db_param_t p[] = {DB_STR(D->code), DB_STR(D->name),  DB_STR(D->address), DB_STR(D->lat),   DB_STR(D->lng),
                      DB_STR(D->area), DB_STR(D->intro), DB_STR(honours),    DB_STR(D->rules), DB_STR(D->hours)};
    int rc = db_exec(b->db,
                     "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules, open_hours)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     p, NELEM(p), NULL, &id);
    free(honours);
    if (rc != DB_OK)
        return fail(b, rc, "market");
    b->s->market_id = (int64_t)id;
    snprintf(b->s->market_name, sizeof(b->s->market_name), "%s", D->name);
    return DB_OK;
}

static int insert_categories(build_t *b)
{
    for (size_t i = 0; i < NELEM(categories); i++) {
        const category_t *c = &categories[i];
        db_param_t p[] = {DB_I64(b->s->market_id),
                          DB_STR(c->code),
                          DB_STR(c->name),
                          DB_STR(c->commodity),
                          c->parent != NULL ? DB_STR(c->parent) : DB_NULL,
                          DB_I64((int64_t)i + 1)};
        int rc = db_exec(b->db,
                         "INSERT INTO categories (market_id, code, name, commodity_code, parent_code, sort)"
                         " VALUES (?, ?, ?, ?, ?, ?)",
                         p, NELEM(p), NULL, NULL);
        if (rc != DB_OK)
            return fail(b, rc, "categories");
    }
    return DB_OK;
}

/* Appends a login for a user this run creates, with a fresh password. */
static seed_login_t *new_login(build_t *b, const char *role, const char *fmt, int n)
{
    seed_t *s = b->s;
    if (s->nlogins >= SEED_MAX_LOGINS)
        return NULL;
    seed_login_t *l = &s->logins[s->nlogins];
    memset(l, 0, sizeof(*l));
    snprintf(l->role, sizeof(l->role), "%s", role);
    snprintf(l->username, sizeof(l->username), fmt, n);
    if (seed_password(l->password) != 0)
        return NULL;
    s->nlogins++;
    return l;
}

static int create_user(build_t *b, seed_login_t *l, const char *display_name)
{
    user_new_t u = {.role = l->role,
                    .market_id = b->s->market_id,
                    .username = l->username,
                    .password = l->password,
                    .display_name = display_name,
                    .vendor_id = l->vendor_id,
                    .courier_id = l->courier_id};
    int rc = user_create(b->db, &u, &l->user_id);
    if (rc == DB_DUP)
        snprintf(b->err, b->errlen, "the username %s is taken (by an account of another market?)", l->username);
    else if (rc != DB_OK)
        snprintf(b->err, b->errlen, "user %s: %s", l->username, b->db->err);
    return rc;
}

static int insert_operator(build_t *b)
{
    char name[32];
    snprintf(name, sizeof(name), "%s%s", D->login_prefix, SEED_OPERATOR_USERNAME);
    seed_login_t *l = new_login(b, "operator", name, 0);
    if (l == NULL) {
        snprintf(b->err, b->errlen, "no random source for passwords");
        return DB_ERR;
    }
    return create_user(b, l, D->operator_display);
}

/* A unified social credit code (GB 32100): 9<kind> + area + 9 characters + check character. */
static void credit_code(char out[19], const char *area, int individual, uint64_t key)
{
    static const char cs[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    static const int weight[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
    snprintf(out, 19, "9%c%sMA", individual ? '2' : '1', area);
    for (int i = 10; i < 17; i++)
        out[i] = cs[vary(SALT_LICENCE, key, i, 0, 30)];
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (int)(strchr(cs, out[i]) - cs) * weight[i];
    out[17] = cs[(31 - sum % 31) % 31];
    out[18] = '\0';
}

static int insert_licence(build_t *b, int64_t vendor_id, const char *type, const char *number, int days)
{
    char until[11];
    seed_date(until, days);
    db_param_t p[] = {DB_I64(b->s->market_id), DB_I64(vendor_id), DB_STR(type), DB_STR(number), DB_STR(until)};
    int rc = db_exec(b->db,
                     "INSERT INTO vendor_licences (market_id, vendor_id, type, number, valid_until)"
                     " VALUES (?, ?, ?, ?, ?)",
                     p, NELEM(p), NULL, NULL);
    return rc == DB_OK ? DB_OK : fail(b, rc, "vendor licences");
}

/* Every vendor holds a business licence; food sellers also a food business licence. A few
 * expire within the month, one or two have already. */
static int insert_licences(build_t *b, const stall_group_t *g, int v, int64_t vendor_id)
{
    char number[24];
    credit_code(number, D->area, v % 6 != 0, (uint64_t)v);
    int days = v % 12 == 7 ? (int)vary(SALT_LICENCE, v, 20, 5, 25) : (int)vary(SALT_LICENCE, v, 21, 700, 3650);
    int rc = insert_licence(b, vendor_id, "business_licence", number, days);
    if (rc != DB_OK || !g->food_licence)
        return rc;
    snprintf(number, sizeof(number), "JY1%s%07" PRId64, D->area, vary(SALT_LICENCE, v, 22, 0, 9999999));
    days = v % 10 == 3  ? (int)vary(SALT_LICENCE, v, 23, 5, 28)
           : v % 7 == 5 ? -(int)vary(SALT_LICENCE, v, 24, 2, 30)
                        : (int)vary(SALT_LICENCE, v, 25, 200, 1800);
    return insert_licence(b, vendor_id, "food_business_licence", number, days);
}

/* The vendor and one or two helpers, each with a health certificate; about one in eleven
 * has lapsed, so the public record shows some `valid: false`. */
static int insert_staff(build_t *b, int v, int64_t vendor_id)
{
    int n = (int)vary(SALT_STAFF, v, 0, 1, 3);
    for (int i = 0; i < n; i++) {
        size_t k = b->nstaff++;
        const char *name = i == 0 ? D->vendor_names[v] : staff_names[k % NELEM(staff_names)];
        char cert[32], until[11];
        snprintf(cert, sizeof(cert), "JK%s%08" PRId64, D->area, vary(SALT_STAFF, k, 1, 10000000, 99999999));
        seed_date(until, k % 11 == 5 ? -(int)vary(SALT_STAFF, k, 2, 3, 90) : (int)vary(SALT_STAFF, k, 3, 20, 360));
        db_param_t p[] = {DB_I64(b->s->market_id), DB_I64(vendor_id), DB_STR(name), DB_STR(cert), DB_STR(until)};
        int rc = db_exec(b->db,
                         "INSERT INTO vendor_staff (market_id, vendor_id, name, certificate, valid_until)"
                         " VALUES (?, ?, ?, ?, ?)",
                         p, NELEM(p), NULL, NULL);
        if (rc != DB_OK)
            return fail(b, rc, "vendor staff");
    }
    return DB_OK;
}

/* Vendor v (0-based) with its licences, staff and login; *login gets its index in s->logins. */
static int insert_vendor(build_t *b, const stall_group_t *g, int v, size_t *login)
{
    static const char credit[] = "AABABACABBAACBAB";
    char phone[16], level[2] = {credit[v % (int)(sizeof(credit) - 1)], '\0'};
    uint64_t id = 0;
    snprintf(phone, sizeof(phone), "1%c%09" PRId64, "35789"[vary(SALT_VENDOR, v, 0, 0, 4)],
             vary(SALT_VENDOR, v, 1, 0, 999999999));
    db_param_t p[] = {DB_I64(b->s->market_id), DB_STR(D->vendor_names[v]), DB_STR(phone), DB_STR(g->scope),
                      DB_STR(level)};
    int rc = db_exec(b->db,
                     "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level)"
                     " VALUES (?, ?, ?, ?, ?)",
                     p, NELEM(p), NULL, &id);
    if (rc != DB_OK)
        return fail(b, rc, "vendors");
    if ((rc = insert_licences(b, g, v, (int64_t)id)) != DB_OK || (rc = insert_staff(b, v, (int64_t)id)) != DB_OK)
        return rc;
    char fmt[32];
    snprintf(fmt, sizeof(fmt), "%svendor%%02d", D->login_prefix);
    seed_login_t *l = new_login(b, "vendor", fmt, v + 1);
    if (l == NULL) {
        snprintf(b->err, b->errlen, "too many logins, or no random source for passwords");
        return DB_ERR;
    }
    l->vendor_id = (int64_t)id;
    *login = b->s->nlogins - 1;
    return create_user(b, l, D->vendor_names[v]);
}

/* How many vendors a market has: one per stall, less the second stalls of pairs. */
static size_t vendor_count(const market_def_t *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->ngroups; i++)
        n += (size_t)d->groups[i].n;
    for (size_t i = 0; i < d->npairs; i++)
        n -= d->pairs[i][0][0] != '\0';
    return n;
}

static int anomaly_pct(const market_def_t *d, const char *stall_no)
{
    for (size_t i = 0; i < d->nanomalies; i++)
        if (strcmp(d->anomalies[i].stall_no, stall_no) == 0)
            return d->anomalies[i].pct;
    return 0;
}

typedef struct stall_ref {
    const stall_group_t *g;
    const char *no;
    size_t index; /* of the stall in the market */
    int64_t id, vendor_id;
} stall_ref_t;

static int insert_product(build_t *b, const stall_ref_t *st, const commodity_t *c, int pct)
{
    uint64_t k = b->nproducts++;
    int weight = c->unit == NULL;
    int64_t per_g = weight && vary(SALT_PRODUCT, k, 1, 0, 7) == 0 ? 1000 : 500;
    int64_t price = board_price((int64_t)c->price * pct / 100 * (weight ? per_g / 500 : 1));
    int64_t stock = vary(SALT_PRODUCT, k, 2, c->stock_lo, c->stock_hi) * (weight ? 1000 : 1);
    int64_t sold = vary(SALT_PRODUCT, k, 3, 0, 150) * (weight ? 500 : 1);
    char trace[40];
    if (st->g->trace || vary(SALT_PRODUCT, k, 4, 0, 3) == 0)
        snprintf(trace, sizeof(trace), "%s%s%05" PRIu64, c->origin ? c->origin : D->area, b->stamp, k + 1);
    else
        trace[0] = '\0';
    db_param_t p[] = {DB_I64(b->s->market_id),
                      DB_I64(st->id),
                      DB_I64(st->vendor_id),
                      DB_STR(c->category),
                      DB_STR(c->code),
                      DB_STR(c->name),
                      DB_STR(weight ? "weight" : "count"),
                      DB_I64(price),
                      weight ? DB_I64(per_g) : DB_NULL,
                      weight ? DB_NULL : DB_STR(c->unit),
                      DB_I64(stock),
                      c->origin != NULL ? DB_STR(c->origin) : DB_NULL,
                      trace[0] ? DB_STR(trace) : DB_NULL,
                      DB_I64(sold)};
    int rc = db_exec(b->db,
                     "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name,"
                     " pricing_mode, price_fen, per_g, unit, stock, origin, trace_code, sales_qty)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     p, NELEM(p), NULL, NULL);
    return rc == DB_OK ? DB_OK : fail(b, rc, "products");
}

/* The commodities a group sells, round robin over its categories (the first of each, then
 * the second of each, ...), so that a run of them mixes the kinds. *n gets how many. */
static void group_commodities(const stall_group_t *g, size_t *cand, size_t *n)
{
    *n = 0;
    for (size_t round = 0, added = 1; added; round++) {
        added = 0;
        for (const char *const *cat = g->sells; *cat != NULL; cat++) {
            size_t seen = 0;
            for (size_t i = 0; i < NELEM(commodities); i++) {
                if (strcmp(commodities[i].category, *cat) != 0 || seen++ != round)
                    continue;
                cand[(*n)++] = i;
                added = 1;
                break;
            }
        }
    }
}

/* Seven to nine products: the k-th stall of a group of n starts k/n of the way along the
 * group's list, so that between them the stalls sell every commodity of the list. */
static int insert_products(build_t *b, const stall_ref_t *st, int k)
{
    size_t cand[NELEM(commodities)], n = 0;
    group_commodities(st->g, cand, &n);
    size_t want = (size_t)vary(SALT_STALL, st->index, 1, D->products_lo, D->products_hi);
    if (want > n)
        want = n;
    size_t start = (size_t)k * n / (size_t)st->g->n;
    int odd = anomaly_pct(D, st->no);
    for (size_t j = 0; j < want; j++) {
        const commodity_t *c = &commodities[cand[(start + j) % n]];
        int pct = (int)vary(SALT_PRODUCT, b->nproducts, 0, 88, 118);
        if (odd != 0 && c->unit == NULL) {
            pct = odd;
            odd = 0;
        }
        int rc = insert_product(b, st, c, pct);
        if (rc != DB_OK)
            return rc;
    }
    return DB_OK;
}

/* The vendor of a stall that is the second of a pair, or 0. */
static size_t paired_login(const build_t *b, const char *stall_no, int *found)
{
    *found = 0;
    const market_def_t *d = b->def;
    for (size_t i = 0; i < d->npairs; i++) {
        if (strcmp(d->pairs[i][0], stall_no) != 0)
            continue;
        for (size_t k = 0; k < b->nstalls; k++)
            if (strcmp(b->stall_nos[k], d->pairs[i][1]) == 0) {
                *found = 1;
                return b->stall_login[k];
            }
    }
    return 0;
}

static int insert_stall(build_t *b, const stall_group_t *g, int number, int *nvendors)
{
    if (b->nstalls >= MAX_STALLS || (size_t)*nvendors >= D->nvendor_names) {
        snprintf(b->err, b->errlen, "the stall tables outgrew MAX_STALLS or the vendor names");
        return DB_ERR;
    }
    stall_ref_t st = {.g = g, .no = b->stall_nos[b->nstalls], .index = b->nstalls};
    snprintf(b->stall_nos[st.index], sizeof(b->stall_nos[0]), "%c%02d", g->letter, number);
    int rc = DB_OK, paired;
    size_t login = paired_login(b, st.no, &paired);
    if (!paired && (rc = insert_vendor(b, g, (*nvendors)++, &login)) != DB_OK)
        return rc;
    seed_login_t *l = &b->s->logins[login];
    st.vendor_id = l->vendor_id;
    int64_t ratings = vary(SALT_STALL, st.index, 3, 15, 260);
    uint64_t id = 0;
    db_param_t p[] = {DB_I64(b->s->market_id),
                      DB_STR(st.no),
                      DB_STR(g->zone),
                      DB_I64(((number - 1) % 8) * 10 + 5),
                      DB_I64((g->map_row + (number - 1) / 8) * 10 + 5),
                      DB_I64(st.vendor_id),
                      DB_I64(ratings * vary(SALT_STALL, st.index, 4, 38, 49) / 10),
                      DB_I64(ratings)};
    rc = db_exec(b->db,
                 "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id, rating_sum, rating_count)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 p, NELEM(p), NULL, &id);
    if (rc != DB_OK)
        return fail(b, rc, "stalls");
    st.id = (int64_t)id;
    if (l->nstalls < SEED_MAX_LOGIN_STALLS)
        l->stall_ids[l->nstalls++] = st.id;
    b->stall_login[b->nstalls++] = login;
    return insert_products(b, &st, number - g->first);
}

static int insert_stalls(build_t *b)
{
    int nvendors = 0;
    for (size_t i = 0; i < D->ngroups; i++)
        for (int k = 0; k < D->groups[i].n; k++) {
            int rc = insert_stall(b, &D->groups[i], D->groups[i].first + k, &nvendors);
            if (rc != DB_OK)
                return rc;
        }
    return DB_OK;
}

static int insert_couriers(build_t *b)
{
    char fmt[32];
    snprintf(fmt, sizeof(fmt), "%scourier%%02d", D->login_prefix);
    for (size_t i = 0; i < D->ncouriers; i++) {
        uint64_t id = 0;
        db_param_t p[] = {DB_I64(b->s->market_id), DB_STR(D->couriers[i].name), DB_STR(D->couriers[i].phone)};
        int rc =
            db_exec(b->db, "INSERT INTO couriers (market_id, name, phone) VALUES (?, ?, ?)", p, NELEM(p), NULL, &id);
        if (rc != DB_OK)
            return fail(b, rc, "couriers");
        seed_login_t *l = new_login(b, "courier", fmt, (int)i + 1);
        if (l == NULL) {
            snprintf(b->err, b->errlen, "too many logins, or no random source for passwords");
            return DB_ERR;
        }
        l->courier_id = (int64_t)id;
        if ((rc = create_user(b, l, D->couriers[i].name)) != DB_OK)
            return rc;
    }
    return DB_OK;
}

static int insert_notices(build_t *b)
{
    for (size_t i = 0; i < D->nnotices; i++) {
        db_param_t p[] = {DB_I64(b->s->market_id), DB_STR(D->notices[i].title), DB_STR(D->notices[i].body),
                          DB_I64(b->s->logins[0].user_id), DB_I64(D->notices[i].hours_ago)};
        int rc = db_exec(b->db,
                         "INSERT INTO notices (market_id, title, body, created_by, published_at)"
                         " VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3) - INTERVAL ? HOUR)",
                         p, NELEM(p), NULL, NULL);
        if (rc != DB_OK)
            return fail(b, rc, "notices");
    }
    return DB_OK;
}

int seed_market_find(db_t *db, seed_t *s)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_STR(defs[s->which].code)};
    int rc = db_query_row(db, "SELECT id, name FROM markets WHERE code = ?", p, 1, &rows);
    if (rc != DB_OK)
        return rc;
    s->market_id = db_rows_i64(rows, 0);
    db_rows_copy(rows, 1, s->market_name, sizeof(s->market_name));
    db_rows_free(rows);
    return DB_OK;
}

/* The whole market as one long transaction (db_tx): a run after a deadlock or a lost
 * connection starts from nothing, so the counts of the run before are dropped first. */
static sf_status_t build_tx(db_t *db, void *ctx)
{
    build_t *b = ctx;
    (void)db; /* b->db is the same connection */
    b->s->nlogins = 0;
    b->nstalls = b->nproducts = b->nstaff = 0;
    b->err[0] = '\0';
    sf_status_t rc;
    if ((rc = insert_market(b)) != DB_OK || (rc = insert_categories(b)) != DB_OK ||
        (rc = insert_operator(b)) != DB_OK || (rc = insert_stalls(b)) != DB_OK || (rc = insert_couriers(b)) != DB_OK ||
        (rc = insert_notices(b)) != DB_OK)
        return rc;
    return DB_OK;
}

int seed_market_create(db_t *db, seed_t *s, char *err, size_t errlen)
{
    build_t *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        snprintf(err, errlen, "out of memory");
        return DB_ERR;
    }
    *b = (build_t){.db = db, .s = s, .def = &defs[s->which], .err = err, .errlen = errlen};
    seed_date(b->today, 0);
    snprintf(b->stamp, sizeof(b->stamp), "%.4s%.2s%.2s", b->today, b->today + 5, b->today + 8);
    sf_status_t rc = db_tx(db, build_tx, b);
    if (rc == DB_OK)
        s->created = 1;
    else if (b->err[0] == '\0')
        fail(b, rc, "commit");
    if (rc != DB_OK) {
        s->nlogins = 0;
        s->market_id = 0;
    }
    free(b);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Guide prices: one per commodity sold by weight, per 500 g, moving a little from day to day. */

typedef struct guide_run {
    int64_t market_id;
    const char *date;
    uint64_t day; /* a hash of the date: the prices move from day to day */
    size_t *n;
} guide_run_t;

/* The day's guide prices, one transaction (db_tx): a run again counts again from 0. */
static sf_status_t guide_tx(db_t *db, void *ctx)
{
    guide_run_t *g = ctx;
    sf_status_t rc = DB_OK;
    *g->n = 0;
    for (size_t i = 0; rc == DB_OK && i < NELEM(commodities); i++) {
        const commodity_t *c = &commodities[i];
        if (c->unit != NULL)
            continue;
        int64_t price = board_price((int64_t)c->price * vary(SALT_GUIDE, g->day, (int)i, 97, 103) / 100);
        db_param_t p[] = {DB_I64(g->market_id), DB_STR(g->date), DB_STR(c->code),
                          DB_STR(c->name),      DB_I64(price),   DB_I64(500)};
        rc = db_exec(
            db,
            "INSERT INTO guide_prices (market_id, date, commodity_code, name, price_fen, per_g)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON DUPLICATE KEY UPDATE name = VALUES(name), price_fen = VALUES(price_fen), per_g = VALUES(per_g)",
            p, NELEM(p), NULL, NULL);
        if (rc == DB_OK)
            (*g->n)++;
    }
    return rc;
}

int seed_guide_prices(db_t *db, int64_t market_id, const char *date, size_t *n, char *err, size_t errlen)
{
    uint64_t day = 0;
    for (const char *c = date; *c != '\0'; c++)
        day = day * 31 + (unsigned char)*c;
    *n = 0;
    guide_run_t g = {.market_id = market_id, .date = date, .day = day, .n = n};
    sf_status_t rc = db_tx(db, guide_tx, &g);
    if (rc != DB_OK) {
        snprintf(err, errlen, "guide prices: %s", db->err);
        *n = 0;
    }
    return rc;
}

int seed_count(db_t *db, int64_t market_id, seed_counts_t *c)
{
    static const char *const sql[] = {
        "SELECT COUNT(*) FROM categories WHERE market_id = ?", "SELECT COUNT(*) FROM stalls WHERE market_id = ?",
        "SELECT COUNT(*) FROM vendors WHERE market_id = ?",    "SELECT COUNT(*) FROM products WHERE market_id = ?",
        "SELECT COUNT(*) FROM couriers WHERE market_id = ?",   "SELECT COUNT(*) FROM notices WHERE market_id = ?",
        "SELECT COUNT(*) FROM users WHERE market_id = ?",
    };
    int64_t *out[] = {&c->categories, &c->stalls, &c->vendors, &c->products, &c->couriers, &c->notices, &c->users};
    for (size_t i = 0; i < NELEM(sql); i++) {
        db_rows_t *rows = NULL;
        db_param_t p[] = {DB_I64(market_id)};
        int rc = db_query_row(db, sql[i], p, 1, &rows);
        if (rc != DB_OK)
            return rc;
        *out[i] = db_rows_i64(rows, 0);
        db_rows_free(rows);
    }
    return DB_OK;
}

/* ---------------------------------------------------------------------------------------
 * The demo accounts of an existing market, and their credentials file. */

/* Adds the account `username` of the market to s->logins if it exists; 1 if it did. */
static int load_login(db_t *db, seed_t *s, const char *username, int *rc)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_STR(username), DB_I64(s->market_id)};
    *rc = db_query_row(db, "SELECT id, role, vendor_id, courier_id FROM users WHERE username = ? AND market_id = ?", p,
                       NELEM(p), &rows);
    if (*rc != DB_OK || s->nlogins >= SEED_MAX_LOGINS) {
        if (*rc == DB_NOROW)
            *rc = DB_OK;
        return 0;
    }
    seed_login_t *l = &s->logins[s->nlogins++];
    memset(l, 0, sizeof(*l));
    snprintf(l->username, sizeof(l->username), "%s", username);
    l->user_id = db_rows_i64(rows, 0);
    db_rows_copy(rows, 1, l->role, sizeof(l->role));
    l->vendor_id = db_rows_i64(rows, 2);
    l->courier_id = db_rows_i64(rows, 3);
    db_rows_free(rows);
    if (l->vendor_id == 0)
        return 1;
    db_param_t q[] = {DB_I64(s->market_id), DB_I64(l->vendor_id), DB_I64(SEED_MAX_LOGIN_STALLS)};
    *rc = db_query(db, "SELECT id FROM stalls WHERE market_id = ? AND vendor_id = ? ORDER BY stall_no LIMIT ?", q,
                   NELEM(q), &rows);
    while (*rc == DB_OK && db_rows_next(rows))
        l->stall_ids[l->nstalls++] = db_rows_i64(rows, 0);
    db_rows_free(rows);
    return 1;
}

int seed_logins_load(db_t *db, seed_t *s, char *err, size_t errlen)
{
    char name[32];
    int rc = DB_OK;
    const market_def_t *d = &defs[s->which];
    s->nlogins = 0;
    snprintf(name, sizeof(name), "%s%s", d->login_prefix, SEED_OPERATOR_USERNAME);
    load_login(db, s, name, &rc);
    for (size_t i = 0; rc == DB_OK && i < vendor_count(d); i++) {
        snprintf(name, sizeof(name), "%svendor%02zu", d->login_prefix, i + 1);
        load_login(db, s, name, &rc);
    }
    for (size_t i = 0; rc == DB_OK && i < d->ncouriers; i++) {
        snprintf(name, sizeof(name), "%scourier%02zu", d->login_prefix, i + 1);
        load_login(db, s, name, &rc);
    }
    if (rc != DB_OK)
        snprintf(err, errlen, "reading the demo accounts: %s", db->err);
    return rc;
}

static int stored_hash(db_t *db, int64_t user_id, char *out, size_t len)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(user_id)};
    if (db_query_row(db, "SELECT password_hash FROM users WHERE id = ?", p, 1, &rows) != DB_OK)
        return -1;
    const char *h = db_rows_str(rows, 0, NULL);
    int ok = h != NULL && strlen(h) < len;
    if (ok)
        snprintf(out, len, "%s", h);
    db_rows_free(rows);
    return ok ? 0 : -1;
}

static int same_string(json_t *obj, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v != NULL && strcmp(v, want) == 0;
}

static int same_int(json_t *obj, const char *key, int64_t want)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) && json_integer_value(v) == want;
}

/* 1 if the list `key` of doc names exactly s's logins of role, in order, with their ids. */
static int same_logins(json_t *doc, const char *key, const seed_t *s, const char *role, const char *id_key)
{
    json_t *list = json_object_get(doc, key);
    size_t k = 0;
    if (!json_is_array(list))
        return 0;
    for (size_t i = 0; i < s->nlogins; i++) {
        const seed_login_t *l = &s->logins[i];
        if (strcmp(l->role, role) != 0)
            continue;
        json_t *e = json_array_get(list, k++);
        int64_t id = strcmp(role, "vendor") == 0 ? l->vendor_id : l->courier_id;
        if (!json_is_object(e) || !same_string(e, "username", l->username) || !same_int(e, id_key, id) ||
            !json_is_string(json_object_get(e, "password")))
            return 0;
    }
    return k == json_array_size(list);
}

/* 1 if the object m of the credentials file lists exactly s's market and accounts, and its
 * operator password matches the stored hash. */
static int market_current(db_t *db, const seed_t *s, json_t *m)
{
    char hash[USER_HASH_MAX];
    json_t *op = json_object_get(m, "operator");
    const char *pw = json_string_value(json_object_get(op, "password"));
    if (s->nlogins == 0 || strcmp(s->logins[0].role, "operator") != 0 || !same_int(m, "market_id", s->market_id) ||
        !same_string(op, "username", s->logins[0].username) || pw == NULL ||
        !same_logins(m, "vendors", s, "vendor", "vendor_id") || !same_logins(m, "couriers", s, "courier", "courier_id"))
        return 0;
    /* One hash check: the file is ours and the passwords were not reset since it was written. */
    return stored_hash(db, s->logins[0].user_id, hash, sizeof(hash)) == 0 && user_verify_password(pw, hash) == 1;
}

int seed_credentials_current(db_t *db, const seed_t s[SEED_MARKETS], const char *path)
{
    json_t *doc = json_load_file(path, 0, NULL);
    int ok = doc != NULL && market_current(db, &s[0], doc) &&
             market_current(db, &s[1], json_object_get(doc, SEED_SECOND_KEY));
    json_decref(doc);
    return ok;
}

typedef struct reset {
    const seed_t *s;
    char (*hashes)[USER_HASH_MAX];
} reset_t;

/* Stores the new hashes, one transaction (db_tx): every login changes, or none. */
static sf_status_t reset_tx(db_t *db, void *ctx)
{
    const reset_t *r = ctx;
    sf_status_t rc = DB_OK;
    for (size_t i = 0; rc == DB_OK && i < r->s->nlogins; i++)
        rc = user_set_password_hash(db, r->s->market_id, r->s->logins[i].user_id, r->hashes[i]);
    return rc;
}

int seed_passwords_reset(db_t *db, seed_t *s, char *err, size_t errlen)
{
    char(*hashes)[USER_HASH_MAX] = calloc(s->nlogins ? s->nlogins : 1, USER_HASH_MAX);
    int rc = DB_ERR;
    if (hashes == NULL) {
        snprintf(err, errlen, "out of memory");
        return DB_ERR;
    }
    /* Hash first: a few seconds of scrypt need not hold row locks. */
    for (size_t i = 0; i < s->nlogins; i++)
        if (seed_password(s->logins[i].password) != 0 ||
            user_hash_password(s->logins[i].password, hashes[i], USER_HASH_MAX) != 0) {
            snprintf(err, errlen, "could not make a password for %s", s->logins[i].username);
            goto out;
        }
    rc = db_tx(db, reset_tx, &(reset_t){.s = s, .hashes = hashes});
    if (rc != DB_OK)
        snprintf(err, errlen, "storing the new passwords: %s", db->err);
out:
    OPENSSL_cleanse(hashes, (s->nlogins ? s->nlogins : 1) * USER_HASH_MAX);
    free(hashes);
    return rc;
}

/* One market's part of the credentials file: {market_id, market_code, operator, vendors,
 * couriers}. */
static json_t *credentials_doc(const seed_t *s)
{
    json_t *doc = json_pack("{s:I, s:s, s:n, s:[], s:[]}", "market_id", (json_int_t)s->market_id, "market_code",
                            defs[s->which].code, "operator", "vendors", "couriers");
    for (size_t i = 0; doc != NULL && i < s->nlogins; i++) {
        const seed_login_t *l = &s->logins[i];
        json_t *e = json_pack("{s:s, s:s}", "username", l->username, "password", l->password);
        if (e == NULL)
            goto fail;
        if (strcmp(l->role, "vendor") == 0) {
            json_t *ids = json_array();
            for (size_t k = 0; ids != NULL && k < l->nstalls; k++)
                json_array_append_new(ids, json_integer(l->stall_ids[k]));
            json_object_set_new(e, "vendor_id", json_integer(l->vendor_id));
            json_object_set_new(e, "stall_ids", ids != NULL ? ids : json_array());
            json_array_append_new(json_object_get(doc, "vendors"), e);
        } else if (strcmp(l->role, "courier") == 0) {
            json_object_set_new(e, "courier_id", json_integer(l->courier_id));
            json_array_append_new(json_object_get(doc, "couriers"), e);
        } else {
            json_object_set_new(doc, "operator", e);
        }
    }
    if (doc != NULL && json_is_object(json_object_get(doc, "operator")))
        return doc;
fail:
    json_decref(doc);
    return NULL;
}

/* Makes the directory that will hold path, one level deep, private to the user. */
static void make_parent(const char *path)
{
    char dir[512];
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path || (size_t)(slash - path) >= sizeof(dir))
        return;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return; /* open() below reports it */
}

int seed_credentials_write(const seed_t s[SEED_MARKETS], const char *path, char *err, size_t errlen)
{
    char tmp[600];
    int fd = -1, rc = -1;
    json_t *doc = credentials_doc(&s[0]), *second = credentials_doc(&s[1]);
    if (doc == NULL || second == NULL || json_object_set_new(doc, SEED_SECOND_KEY, second) != 0) {
        if (doc == NULL)
            json_decref(second);
        json_decref(doc);
        snprintf(err, errlen, "the demo accounts are incomplete (no operator?)");
        return -1;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        snprintf(err, errlen, "path too long: %s", path);
        goto out;
    }
    make_parent(path);
    unlink(tmp); /* a leftover could carry wider permissions */
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
        json_dumpfd(doc, fd, JSON_INDENT(2)) != 0 || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0 || (fd = -1, rename(tmp, path) != 0)) {
        fd = -1;
        snprintf(err, errlen, "cannot put %s in place: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    json_decref(doc);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * The whole run, with a line per step. */

static size_t count_role(const seed_t *s, const char *role)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nlogins; i++)
        n += strcmp(s->logins[i].role, role) == 0;
    return n;
}

/* Finds the market or makes it; a concurrent seed that made it first is fine. */
static int find_or_create(db_t *db, seed_t *s, FILE *out, char *err, size_t errlen)
{
    const market_def_t *d = &defs[s->which];
    int rc = seed_market_find(db, s);
    if (rc == DB_NOROW) {
        fprintf(out, "seed: creating the demo market %s (hashing %zu passwords takes a few seconds)\n", d->code,
                1 + vendor_count(d) + d->ncouriers);
        fflush(out);
        rc = seed_market_create(db, s, err, errlen);
        if (rc == DB_DUP && seed_market_find(db, s) == DB_OK)
            rc = DB_OK; /* another seed made it meanwhile */
    } else if (rc != DB_OK) {
        snprintf(err, errlen, "looking for the demo market %s: %s", d->code, db->err);
    }
    if (rc == DB_OK && !s->created)
        rc = seed_logins_load(db, s, err, errlen);
    return rc;
}

static int ensure_credentials(db_t *db, seed_t s[SEED_MARKETS], const char *path, FILE *out, char *err, size_t errlen)
{
    size_t made = 0, nlogins = 0;
    for (size_t i = 0; i < SEED_MARKETS; i++) {
        made += (size_t)s[i].created;
        nlogins += s[i].created ? 0 : s[i].nlogins;
    }
    if (made < SEED_MARKETS) {
        if (made == 0 && seed_credentials_current(db, s, path)) {
            fprintf(out, "seed: %s still holds working logins; kept it\n", path);
            return 0;
        }
        fprintf(out, "seed: %s is missing or stale: new passwords for the %zu demo accounts\n", path, nlogins);
        fflush(out);
        for (size_t i = 0; i < SEED_MARKETS; i++)
            if (!s[i].created && seed_passwords_reset(db, &s[i], err, errlen) != DB_OK)
                return -1;
    }
    if (seed_credentials_write(s, path, err, errlen) != 0)
        return -1;
    fprintf(out, "seed: wrote %s (%zu operator, %zu vendors, %zu couriers; second market: %zu, %zu, %zu)\n", path,
            count_role(&s[0], "operator"), count_role(&s[0], "vendor"), count_role(&s[0], "courier"),
            count_role(&s[1], "operator"), count_role(&s[1], "vendor"), count_role(&s[1], "courier"));
    return 0;
}

/* One market: found or made, counted, today's guide prices, the catalogue version bumped. */
static int seed_one(db_t *db, redis_t *r, seed_t *s, FILE *out, FILE *err_out, char *err, size_t errlen)
{
    const market_def_t *d = &defs[s->which];
    seed_counts_t c;
    size_t nguide = 0;
    char today[11];
    if (find_or_create(db, s, out, err, errlen) != DB_OK)
        return -1;
    fprintf(out, "seed: market %s (id %" PRId64 ", code %s): %s\n", s->market_name, s->market_id, d->code,
            s->created ? "created" : "already there, left as it is");
    if (seed_count(db, s->market_id, &c) != DB_OK) {
        snprintf(err, errlen, "counting: %s", db->err);
        return -1;
    }
    fprintf(out,
            "seed: %" PRId64 " categories, %" PRId64 " stalls, %" PRId64 " vendors, %" PRId64 " products, %" PRId64
            " couriers, %" PRId64 " notices\n",
            c.categories, c.stalls, c.vendors, c.products, c.couriers, c.notices);
    seed_date(today, 0);
    if (seed_guide_prices(db, s->market_id, today, &nguide, err, errlen) != DB_OK)
        return -1;
    fprintf(out, "seed: guide prices for %s: %zu items\n", today, nguide);
    if (r != NULL && cachever_bump(r, s->market_id, NULL) == 0)
        fprintf(out, "seed: catalogue version of market %" PRId64 " bumped\n", s->market_id);
    else
        fprintf(err_out,
                "seed: warning: could not bump the catalogue version (Redis: %s); a running server may "
                "show its cached catalogue a little longer\n",
                r != NULL && r->err[0] ? r->err : "not connected");
    return 0;
}

int seed_run(db_t *db, redis_t *r, const char *cred_path, FILE *out, FILE *err_out)
{
    char err[512] = "";
    int rc = -1;
    seed_t *s = calloc(SEED_MARKETS, sizeof(*s));
    if (s == NULL) {
        snprintf(err, sizeof(err), "out of memory");
        goto out;
    }
    for (int i = 0; i < SEED_MARKETS; i++) {
        s[i].which = i;
        if (seed_one(db, r, &s[i], out, err_out, err, sizeof(err)) != 0)
            goto out;
    }
    if (ensure_credentials(db, s, cred_path, out, err, sizeof(err)) != 0)
        goto out;
    for (int i = 0; i < SEED_MARKETS; i++)
        if (seed_history(db, r, &s[i], i == 0 ? SEED_HISTORY_DAYS : SEED_HISTORY_DAYS2, out, err_out, err,
                         sizeof(err)) != 0)
            goto out;
    rc = 0;
out:
    if (rc != 0)
        fprintf(err_out, "seed: %s\n", err);
    if (s != NULL)
        OPENSSL_cleanse(s, SEED_MARKETS * sizeof(*s)); /* it held passwords */
    free(s);
    return rc;
}

/* ---- for the demo history (models/seedhist.c) ---- */

const char *seed_market_code(const seed_t *s)
{
    return defs[s->which].code;
}

int seed_market_point(const seed_t *s, double *lat, double *lng)
{
    *lat = strtod(defs[s->which].lat, NULL);
    *lng = strtod(defs[s->which].lng, NULL);
    return 0;
}
