//! ML-KEM-512/768/1024 (FIPS 203, PKCS#11 3.2) through the C ABI:
//! CKM_ML_KEM_KEY_PAIR_GEN, import by CKA_SEED and CKA_VALUE,
//! C_EncapsulateKey / C_DecapsulateKey with CKM_ML_KEM, known answers
//! (C2SP Wycheproof ML-KEM vectors: seed → ek, ciphertext → shared
//! secret, one per parameter set or more), round trips and the refusals.

mod common;

use std::ptr;

use common::lifecycle::*;
use common::mech::Mech;
use common::ops::*;
use common::raw::{GetInterface, Tmpl, symbol};
use common::{hex, unhex};
use cryptoki_sys::*;

// --- known answers -----------------------------------------------------

/// C2SP Wycheproof, testvectors_v1/mlkem_512_test.json, tcId 2 ("FIPS
/// 203" group, round 3 seeds 0): seed → ek, decapsulation of c → K.
const WP_512_SEED: &str = "7c9935a0b07694aa0c6d10e4db6b1add2fd81a25ccb148032dcd739936737f2d8626ed79d451140800e03b59b956f8210e556067407d13dc90fa9e8b872bfb8f";
const WP_512_EK: &str = "400865ed10b619aa5811139bc086825782b2b7124f757c83ae794444bc78a47896acf1262c81351077893bfc56f90449c2fa5f6e586dd37c0b9b581992638cb7e7bcbbb99afe4781d80a50e69463fbd988722c3635423e27466c71dcc674527ccd728968cbcdc00c5c9035bb0af2c9922c7881a41dd2875273925131230f6ca59e9136b39f956c93b3b2d14c641b089e07d0a840c893ecd76bbf92c805456668d07c621491c5c054991a656f511619556eb97782e27a3c785124c70b0daba6c624d18e0f9793f96ba9e1599b17b30dccc0b4f3766a07b23b257309cd76aba072c2b9c9744394c6ab9cb6c54a97b5c57861a58dc0a03519832ee32a07654a070c0c8c4e8648addc355f274fc6b92a087b3f9751923e44274f858c49caba72b65851b3adc48936955097cad9553f5a263f1844b52a020ff7ca89e881a01b95d957a3153c0a5e0a1ccd66b1821a2b8632546e24c7cbbc4cb08808cac37f7da6b16f8aced052cdb2564948f1ab0f768a0d3286ccc7c3749c63c781530fa1ae670542855004a645b522881ec1412bdae342085a9dd5f8126af96bbdb0c1af69a15562cb2a155a100309d1b641d08b2d4ed17bfbf0bc04265f9b10c108f850309504d772811bba8e2be16249aa737d879fc7fb255ee7a6a0a753bd93741c61658ec074f6e002b019345769113cc013ff7494ba8378b11a172260aaa53421bde03a35589d57e322fefa4100a4743926ab7d62258b87b31ccbb5e6b89cb10b271aa05d994bb5708b23ab327ecb93c0f3156869f0883da2064f795e0e2ab7d3c64d61d2303fc3a29e1619923ca801e59fd752ca6e7649d303c9d20788e1214651b06995eb260c929a1344a849b25ca0a01f1eb52913686bba619e23714464031a78439287fca78f4c0476223eea61b7f25a7ce42cca901b2aea129817894ba3470823854f3e5b28d86ba979e54671862d90470b1e7838972a81a48107d6ac0611406b21fbcce1db7702ea9dd6ba6e40527b9dc663f3c93bad056dc28511f66c3e0b928db8879d22c592685cc775a6cd574ac3bce3b27591c821929076358a2200b377365f7efb9e40c3bf0ff0432986ae4bc1a242ce9921aa9e22448819585dea308eb039";
const WP_512_C: &str = "113db2dd06871235e7bc36c9dcaa528fc26ce5db9ecc1dc32e957d7ffb3c7429d50c3c3577a515d3183a1b9d267b936b7eb8f543a3afb77765ca7938f78aa6438ce80a06a6966d0d06af75ba3e0d4f37bac73369f5a729f73e85729edd97c8c2a8cc2619e4cf7b6091869e909fd47d9709149204b0837d8d6f25d267972be63bad34b544523c01c09de3b1fa1d6b7b059eee9e652062fe870f68c68005339ea181e1d0767c152aeb38faf0f9245ae59d5cb0d2b7f201229ed97020d0623a46100d097b0ce1154e028ae6194de05de97dd9ae2e85ffd25d95eb22effe5ba19cd807c530ebaa9fe9f642ccacff47ed15c22bfe3036ebf8ad9c8ed23240aeebaa24d135755100b85ecee3174906e46312062ceecac75de5275256c2c1a653fd6915b1b30c8ecbb6fd4280437453173a96238bc7d108892343e033bcd98e437e789fc5bebaa12b2634b51ed0d589f11143a021d8ecce594fdd48dae84c8063ef3581bc378a48da4e51bb175b0db47f9dcf99318c30225ca7fa79c879bf1c9397b5ccc5efad94c500ed7f9f385d088e34932221fc0fc9afe51f6875548131697695478abdc8736f10095a6b92ec679fe0e2ae5d8b335355d58dae4d4f0b17aa5d1e52f1d45584a892c34ce4b04fcd00981d51caa16064bad92d019dc3aded919684112b29daa28b9dae09b86b21a93310d5fbc6527b224b9ce87d2782bb294673f0ec06f26b087652a18d6ad7b1c93303ef0561c0fc9cd4f678f606f192cf5df92b1548f5dd2687edbeccfc6d4e9de4bd50d3c74fb275abd9b3e90277db4a0069c0a2a7136f50cead4b2f1995faaf168040e9e4beb7c5722049d6da6402992fcea45097df7c1c20fb068222000576935a0806773451921f54c55fbf593a4f147c1fef3acaf0cfa907ae48c8c06312cfdf5186904bec7fed4ed933c9256ab04cbfa03a967c1f7ead4ab40df116be660e27ca2b543526d4b9684c31e1e42383b969f896299d71390cc85b703202acadecfa8c40965c08c53b5671e0d59455bc5a8586c655db8c2ade4ba8877f19b6000e18f8feadda7ede8fe80aa662d694c6d8c33b52";
const WP_512_K: &str = "319839e82ab6b222de7b619e80da8391522bbb37677018494a4742c53f9abfdf";

/// C2SP Wycheproof, testvectors_v1/mlkem_768_test.json, tcId 1
/// (CCTV/strcmp): seed → ek, decapsulation of c → K.
const WP_768_SEED: &str = "cbfc4405d1b2a3a386c94c25e0f2d5f5ee92cb0388ff4d6aa04223086d51c3fd24752da14c9fc3b8ae0d9e4a8b1016b8d8fc69e229c03ea2ef08a4ae0cffc37f";
const WP_768_EK: &str = "8b9a7354e8c1c17a9898f96caf99bba1c625ae0983c4d26e60c12f59bc25d756182b17979e713fff129e6c336a2317770380858129cb91a902ea5455ca076c20e4158f393aa2783053d8acf92c3286a10436d72af3e8903ce22f8cbab18b1309aca205aa8a3da45807e5b60e6967a640a713a5b81b0d82bc406934e3c88910cc06f09a68bce991009bb56ae233296218ff5baf1f475390b8b7494a4e083645985437f2495a073222fea058e1672034151a2e14c2cbcb4ad9068c8e7bcb02886c4087c14bd8823ec66393fb2e12326b38e655dcab1c13cb2931358715c8be5153293229cc994a5702b7295a6a4a73249ac5a30a32a6b91dca768c177d8fa59054e548bee40257db6962a83b64ec6de0d3be7b1812c5d99e7a38cf54eaa8413aa0bd02bf374461f29c2b6aea56f7d33e10dbbc75bb1bf6b555213aac33e652443a186a618b6e9a293919693f1673ea159d0ee52c92d53e9a5cbd5f4c44419b5493f0286efcb9b5a2ad56a713c4f61ed431aa987805a90475391ccd4c7a28d884bf1a926b7675b9208897a89a6384c154acca3521c32a994949b2e80b2ff2518c0bbd34184cda443de498a05dfba9ce701bb914179a0188be0bcda6fbc2cd93afb042481b4a84d821160a1b0ade8bcb97dbaf681547cce0bca674151a261a21aa04fda318c921c38425b775b995cd7b4eb6369f0b211da186594de815fa3b53a68043e1946468a5899b90578ad49397306f71acab67c258fa17a31893b72d22151ce1afee150fe550bffde8a24fe4740dd43f387c7ad20b5cca5997879536c3071574901147727341c1a6fc8043e6454903e88217f0c92b9a4ac54a86e7909390878a35ba18c1e26b13049f41c522bc049d74db6f76caba39f23d8f07abc26a07a1caba71cb5c12fbc20a715450b2228d17b2ba985cfe2496b033b55f300baf992964388a5422298f627ba567730ddb03a195806a5c23a1d315481c52814b0681ea3c804b02c90688c2fbbce9b17d230a42f8b865417c9e93347f5ff624879962747c7eed886acd48a994b22064ca499c69aa4825be60260d12f63102799828b3ccebaa4340b749605017eb4598ff13a634500a48470de9078a34106267d25a0b144d8cdb1a4d527692153da013c0ab27ae2ca955e7c66238746022d50630892933a05c283a9f4c00c9f984646f75471081722ed3404ce60fed4a06702b8728b62d920b3224206ab0a4694f9c18e3162b529c16af04b87b4a61cd53a757906d67a139629585d423a3b0986f29c95984e2095ea4608784b0b31c20cbc36cfd60b773389fe5a8c0958211a35b2c45f21f51a08693c19bfc388c2d677a214ccc5a7cb0b67030fd6987503c91b0f2646985a9048489dd882bd4141f5419554eb738fa7333c5c57a4ce5541fd6b8ad454c2dea67ad1c6f848c0a44a1872e40a17d987075d762ba5aaa21d435dd079b989a8ee21a2ce898934a98a02d5b381c302a2d76948fa65de15666f57750d580ae1a541c700692dd0b0a6799b5cdb893413bb89bb65182f219a4bc3c80b43bb591bcd05ac6e9a366552558ed5c5fbe7b4acfc7b23372094f6a87f26c0c46646c55a888871324fea7536e586a5149b9b707c86ea076486a6822b9bbf59fbfcaedc13284b9813cabdd526e326a6832d3b36efc3102ef";
const WP_768_C: &str = "00e96c44eb5f5380d80b4cb05d608971a28fbe838b912b558bf9676c6c67c9692ed6ea063fc47b70d5d6004825c269b9cb8e68b5728d67f44844d97686a11154e3cbd4a6f9e47524d93d851bdce480d7762ded09be53d17cce3ee28dc5a06911c062b99b218355dd5822108c55e2c67f7ea0b74b6189b33b4589d8ff9d0c867d13edaaf1c5f724675320beda3e6acc673c048fa04a1b30f899227d5a555e08a412a47b7db75eb118a8844a71b186880426f6bb6e77186d18e753cbcce93c9fb76c729875b4d473eeca8dab9941969faef04df9ce3178e7341eab416d28bb7aee12bfb8f4c3df814eff45a0187329079acfc41a8e8dba7b08d111f02e37a1d2b69e57eef808fcc6ae23385534a420a93dfb6a95c73e2f1016177c4fe9d3ced769e277293aaceded6d07efc7890eaa885bd1e73f9e5da2b9cfda0d44cbc9090705ac2ce3e7bcd7775b593c706e45ddc97d3a65d9b7e73673f9473df5bfec689671f73e7f6ee77c730a8ebda1f0b2c112a71904d6f28a51d8d479f8323fb485e722f5c4d5857e95989a9cbaf273efd04fc3cbde98baa9969e095e88accecfbd12ef2155497a5b15fe91a70d1106b91a568363bfc2d6736cc8138cbc41ddf1e54fd40511e27d89e2c26c027b63c156e2bbb998faaed3d72186f0cc626dad39a782dcda2087fd13a9498e10b41b685646a227ea1166a5632c195983f4aba2b718b4074030d57126d34c38349892007acbea9e393b967dc3146b270f080a1f0bee90d65a095a6352a7718ed1717a8025a2bd38c66d120baf4247676a1fe044a57ce268c078f8ff46cc26fe4f9c7a03d6467adacb8418d26273662bce1f7bc00b906e0088e95dc0fb419e2232e85aac77b9e7cd563e604de5e1d3e9693dcd3b19865cf4250773691e7e0af9c2755cd31f49d1f96708f3ba2f0b98184525abb869e12d5cea0ac1740181a875035300b05a54b8d42ee3b4ae92b06e43cd807e2b096c977f23c61ef8c989c52ed83754076dea1323f639250bef61bdf903bf7961cec89ba6942d9d0647ac9c8195d93ed8abcedf25754644035719a5a0a1c8c0798912726a9a8258e4c10ae7485322ed9ba331f6f090c4b492a4fcf53d753cd34f28ec0443fce0724f43c89a3942169d5099a8f7430f38691ebce2e3fe4f600d82c7ccedf60673f8e5d4c1a9f84b8b5b23f5ed63defb6a7205e0a8b105bdc6ff4568fc78cb4456b02fedb7f4c48f6fd6b69216a3319821039db40e19a31a0b0c9d471d5a7a73865d26f8be3595525b1ec4a8579efd07ea98e2602e2bffdfd8febc5c7b4c736d326b5030ccc6faf9420a9c156a8f4516b9fff675459dfdcd4ef85d7adbdffd60f4a39628e399cc752c2e99ab2f431dc765e7c9d206bfe32649fbef4ef48b1d7936fc74766d724350ee2245a8d5f23fbc6c7ed8b57168ce1e864e49d7f8c475dcda140bd42473825b3c72eb8c54780188813011e1962a503f9b516e13226de6375b204733b0192183c8f55e870e61cf8947c3191790bc0b657bc43aebc9d86c";
const WP_768_K: &str = "76c10bb1d86d96d7eb18e298363e51f7728e113f455df7d15017940ed3541451";

/// C2SP Wycheproof, testvectors_v1/mlkem_1024_test.json, tcId 1
/// (CCTV/strcmp): seed → ek, decapsulation of c → K.
const WP_1024_SEED: &str = "8247c17686a8bc0b3afebe6bed1df1dc3ff7fa07c3670f624930235f20aecb4353ece11faa61f47d946ee501abb9a48029096de63b243a1794c4a760f98cc157";
const WP_1024_EK: &str = "a22bc758f65682632313e5c786952a5a144e9747791a4a382c74618b879e6fd8584dc42fb103c6537384906108ece36734510ab6fb5fc68baba2eb9cdb893ef0bccc0e1a90287213ebf25b4455056055993516439af9b45fb441187b2b0169734809497e24821a888b3502469af74023b376f62b03e3e00259f0540bd1163b67750f8a75eb127bec50031619c1bc362d2ab844baab68925884be574ea5d2cc8f694a37503592d2107ab47ba4258b9b3ab0eddc9c4d1402785665d783b298004feb196c48228cc3a684d6950ae688054f5acb35b09c3f290a76470f548674ddaa92ff808d7a091f7795cd75503d5d6982275c01581c1d22d491d2222e97e172809bc9d9c8c6c3875302a03901914017326440faced5bac1dcd2a9014b426f764335f31fd41a05dce58a731bb6e362a61d712303ba1ca4eb0998e507304b6f8c887254261ab4fbca4a198bac4792894a974dd203cf7c9ab58b9402f515aac64641aba6ee133572835f31b4ab6178ccf5c2a9ca875d8d9866bf8a282c49cf3174a89c415926f5155516baa34aa4c3b47af49ac7c6dc9323c45e69a47d79045d66181041da3cef619449c004bf314ef8a6a02a0819a6511dd2eb88e7336a01b947a1b5618e02865d8a9db031be34c1259fc09230f43d294baab64c5cd348563309564cc30912e672d7eb0ec43a7c8f94c89ab99bf4fb852fe661b4c37d6058312c9a7f3b33ce9103625d886869d79f98c6047555310ce6904ddc050d37b8bc872d93951b703b961773696238b890a0971e90c005cc2e75628746b599f878355df2b355153b282b4dcf7b7c3167cfb48bc6002861f5d000a373239166449a67718a1b9dbb43ce6c18a5be227e23f999c8bbb1de6441a6e1193b5176bba03c4f8c71fdda29ee18c336d120d0c331a0a622c1827166c1aa351bb7dca69d84bb9ec692ca62812fbe4a5f89a65ec5b6a6eb976658585f5a63541a23242f31022c4c44db400dd292227b3976cb741e708369370c9555297433b67da83992b1e06d791aa6faa34a040332cbac151576a51c794e2b791dc3740e0f0136fb2137685ca71b3626fb6a51d8417df2408346929685371dc1532093d38176fb8c670b7a7236bb9035923280016afb5070bb559e78a89bd6c5fc36c87e0a5443587c879aa94368ae6fa6690d38bc18274bab0b4b0f01accd95c0af0ba048a76880b8c842430c4541bdbdb267d39498fdd35907a58faab500a710742a63179d5c15fad0bace8bba301935e7b195794597a206a9ad83ca73b66c18f1a25d6813a242a4d082b646d488bc63852df5b69ef08510a657d3ba5954b6a4df752237d8c5d0a429baa14be2f824e16ca19e694de9c6251cb90958a03159914243dc5e272438e2a6500970b55390b02c3b5e52ccb7ebb2099f646f9518376417896e837c16f783ce568d59e6c6e2068892936b6e584a6d2233e7d98506b740008b6d14e29cc878170c966f80f3c76cb96d3e7665eba6067d996bdb16a45c094d8563958a1015ce833b3cac29d4bb3e970c0d7ae654451b378a1027340b5471790ea68575d200c8af88777e28a203c4b36b0512de6607436a34d83a6691882aa5f81c83649f0370be6b743140fc62db1527d220cf6b66870dc674660b5856a34766fcc66f7480c383c904fc124bc608a38246ebe835b3834487611b8d262578364f5849c94437937fa47341a318487a23129c3636f050a0d693a7cb89f36c78502487a691142ca88d8975b4a92417bed59efea73fe3892a062ba384d404887c498909212a5c913e8953c4d50d87faa6bb9c3536582e39b69cfa59240dc881fed2b9450aa1715b88805966b5e52505341f98f728ef939f7917083057a42c40ce9f364117d6b9752179f8d22c4ba3b00de31363d56ad69b92db30ae809036b93a5437598abf115496126dae81875d633e47d49c27911892a885efd78122b90712d3576d864701a469a25b34d904113629a3231b20cdd5a2ede1188e0c411e619162820ea6f1009bf17f32e36fd716098b384013e60a85572d217aa1239507efdc0604379592f66de032372589404952c87552b5c3326d4cac0172c74254b792463ca428d334ee419994eb501b07789349b1d0c16a352ac8fef45d30da79cfa53147529149bc69b594745ff86e2ba862d128410ed993d5e6b3f011342518beb7be48573d1adb2b712ebe6f7b79802ff3";
const WP_1024_C: &str = "001d80376f40a555c9590838e4dd953cfb9a30edf7768f0f35b298c69eb459a42e081f79b419391b14347254849f1ddeac6d03975f22c9bd0e7a27cef18432e1d42b75d3845130cec8cd2387007116f7b21f69d196eb3340a44d4b3d92b2acfa420ce4654063d0e739ffb9238990c117454ed017d33bd63bc1c2da9adc52cb0fa2dc90f6f7482e3072f4d620d65afab8e908943dd7a4e91ed4e12b9147656a8fe758abdfa2d5d2d810edb4409ab09332b9dddccdc6cabf8d89633c609a0a005af2f4fac6baf70315103825531f513f9fc9f6d088cf28b54ff6fba4725e6ee291131b778058a45ed49bea10c1aa0aed05796a3bc88a1a45bc63a01b3646521e7968bdb0eab72758a6f025411814013e123fe354484f4380a218f6f0b6876bf4a225766890ab191b6ffdf84fc19521533b58cc518a5f40d7e2861e9a51c297e3abfe8b36674a066bdbb52390b6e2c91d0a6e1ae66210f3e700344d1a75978945ac9ef7fe72a7c1f6939690cd33e11ef3a9efbb9dc3285254af07121758aad87d34a85231b63f23a6b81a2e5bd232c0138ff574417d2b1fcbde45b686ed6348da7bb2cef151285ee52f4e0e214139f812a68df69459706baf85e31a0073623c7faec1c0b99d86d34fd3a7145210c1870f37687f8d4c94849a22dd1099cd8c730969fcf8e1cc4c1af623f89bb0f2e3b6e4a4c37b6d4d7c8f66df8c384c66264e7a4b35e893cf7424642db20a844aef74a12f1dd244bd331101486babee54b326440f9f9b97e1f1a603146b42b8266a05781ec8bfff57bab186973a9b7bffa60ff246a01d2c9259950e94e9df25dca30c59890280636dee43f83510ddf7de2a5f77a78854cde70ead0943bac7895ee10d363a9334a1d502c282671161a2355f1d4be99a1f9f67e687b9851caf8a3db107940b1ab4481084f8a96053c6205a207ca19043f8d20090ef245557c6b7c1bd2065d2db7f8343acdcd9f7341491c665a8842c19e19d12ab36b01ec68c95bfd9226aa10370ea1b71f08b326f7817a96c53132d7b5004fa00ecf1d6204198fc785b05438bc687cba235e5c2211d8e1e1f211664f240c3c2e4f4a1990943ec83ad80141beceba6e31384c0aa148783872593c0ce9e002cb2af6de35845dc1fcd6e7d5da96b6e8cf3a4cab1d6490ad18203cdac1a77f608c8460d21230ac8470f841c6c17f5a1faff871c27c5a9e0e93a20b5c1e17d8f7a5c74065ab192c33d08d0c603226a01b9f5976e0f06625baa7f90554ee805d7ee242cb54d3183758bf948ea31024fa3aa368cfc8ba7df1474a4388e84e3f79617080a96ce3af88ce5e1b9ba02871c2e6a54d0fc05050295f5f9a638a63c51428bc935c7f539cdd90a5501b8832a3bea490657f026ec6745d4b30f518e6f4b2bee0afb65b34df1d81a4751aed0865b9cb01f4cdc65cab3ee1b3e988b23c0f2c63cb16e305d4c7b69a2ebac8471d6d61412004bbbd4550debbf64c49f5975df1f4bef53281fbadda4a5fb7dfa63e7261499a74c7f3af2026a997c1fdcde6c07fb3ce720a450f9de6970d6121706245e4cd2332247c6cce84085afbf7fab4f7f1fa98626646630e48e2dab8cb21661c306a22ebd7243beb7fc3c6cf57088a40d05c2381fef655c42817f1bb95de7d20f38d02fc1e3b2d6852b2a8f3a4dd4a262ada59f48482e44468c10c0506368c305ee4efc93d60adac26c13258739640890762077e771ecb57c01efbb895c65a9eb1a2c479f1ad7434377331738a2034840682de3ae673ce47e3e54172556a3a543066fd5e30473c33641ffe90144bbe15d68b5e8ab9c063f48edb3a4480356e7a7ddef32c60f0edffcf1c5fef4eb488476794f42af7b66eb01b19bfba59cacd157d485037b2c383add0cf2ff727c1056a466930e46e3f081af429a45e5ccdfe8e0f3c210474eb0156744c7d5486f761910083b6a8fba1898a52b112b96b4b3387f2f3e4000aa0854781b029e8c01f3f09f0cd361eaaa56a89b2a054a1805248e89ddc32dc8a3e53333595686e4e7b076340076a29c1c0f4f1232af35527e8d35f887e7fe524991b5b74da3b02dc26f7227595c096fd40541b86e7f0705cebd4c2a134c14e8f9eef94fa609a305e6a429f290404f1043c1666387df4bafc2308dc4eb2539c01dedc23d9c2018a9c5cdec50475a8f8ee32d9d13d79b304dcf69b949be7877fab4752b45b9ee04622123db";
const WP_1024_K: &str = "c6338bf92f3930b95f81d87fe669fabc42aaa549e8fecfbfdbe237d739fe4d96";

// --- the 3.2 table -----------------------------------------------------

fn f32() -> &'static CK_FUNCTION_LIST_3_2 {
    let get: GetInterface = symbol(b"C_GetInterface\0");
    let mut name = *b"PKCS 11\0";
    let mut v = CK_VERSION { major: 3, minor: 2 };
    let mut out: *mut CK_INTERFACE = ptr::null_mut();
    // SAFETY: live locals.
    let rv = unsafe { get(name.as_mut_ptr(), &mut v, &mut out, 0) };
    assert_eq!(rv, CKR_OK);
    // SAFETY: the module's static 3.2 interface.
    unsafe { &*((*out).pFunctionList as *const CK_FUNCTION_LIST_3_2) }
}

fn rv(r: CK_RV) -> Rv<()> {
    if r == CKR_OK { Ok(()) } else { Err(r) }
}

/// C_EncapsulateKey with a buffer of `room` bytes: (ciphertext, key).
fn encapsulate_into(
    s: &Sess,
    m: &Mech,
    public: CK_OBJECT_HANDLE,
    mut t: Tmpl,
    room: usize,
) -> Rv<(Vec<u8>, CK_OBJECT_HANDLE)> {
    let mut ck = m.ck();
    let (tp, tn) = t.as_mut();
    let mut buf = vec![0u8; room];
    let mut len = ulong(room);
    let mut key = CK_INVALID_HANDLE;
    let f = f32().C_EncapsulateKey.expect("C_EncapsulateKey");
    // SAFETY: owned buffers that outlive the call.
    rv(unsafe {
        f(
            s.h,
            &mut ck,
            public,
            tp,
            tn,
            buf.as_mut_ptr(),
            &mut len,
            &mut key,
        )
    })?;
    buf.truncate(usize_of(len));
    Ok((buf, key))
}

fn encapsulate(s: &Sess, public: CK_OBJECT_HANDLE, t: Tmpl) -> Rv<(Vec<u8>, CK_OBJECT_HANDLE)> {
    encapsulate_into(s, &Mech::new(CKM_ML_KEM), public, t, 4096)
}

fn decapsulate_with(
    s: &Sess,
    m: &Mech,
    private: CK_OBJECT_HANDLE,
    mut t: Tmpl,
    ct: &[u8],
) -> Rv<CK_OBJECT_HANDLE> {
    let mut ck = m.ck();
    let (tp, tn) = t.as_mut();
    let mut c = ct.to_vec();
    let mut key = CK_INVALID_HANDLE;
    let f = f32().C_DecapsulateKey.expect("C_DecapsulateKey");
    // SAFETY: owned buffers that outlive the call.
    rv(unsafe {
        f(
            s.h,
            &mut ck,
            private,
            tp,
            tn,
            c.as_mut_ptr(),
            ulong(c.len()),
            &mut key,
        )
    })?;
    Ok(key)
}

fn decapsulate(s: &Sess, private: CK_OBJECT_HANDLE, t: Tmpl, ct: &[u8]) -> Rv<CK_OBJECT_HANDLE> {
    decapsulate_with(s, &Mech::new(CKM_ML_KEM), private, t, ct)
}

/// A readable generic secret for the shared key.
fn readable() -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bool(CKA_TOKEN, false)
        .bool(CKA_SENSITIVE, false)
        .bool(CKA_EXTRACTABLE, true)
}

fn private_from_seed(s: &Sess, set: CK_ULONG, seed: &[u8]) -> Rv<CK_OBJECT_HANDLE> {
    s.create(
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
            .ulong(CKA_KEY_TYPE, CKK_ML_KEM)
            .ulong(CKA_PARAMETER_SET, set)
            .bool(CKA_TOKEN, false)
            .bytes(CKA_SEED, seed),
    )
}

fn public_from_ek(s: &Sess, set: CK_ULONG, ek: &[u8]) -> Rv<CK_OBJECT_HANDLE> {
    s.create(
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_ML_KEM)
            .ulong(CKA_PARAMETER_SET, set)
            .bool(CKA_TOKEN, false)
            .bytes(CKA_VALUE, ek),
    )
}

fn pair(s: &Sess, set: CK_ULONG, token: bool) -> Rv<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
    s.generate_pair(
        &Mech::new(CKM_ML_KEM_KEY_PAIR_GEN),
        Tmpl::new()
            .ulong(CKA_PARAMETER_SET, set)
            .bool(CKA_TOKEN, token),
        Tmpl::new().bool(CKA_TOKEN, token),
    )
}

/// The ek of a private key, through its CKA_PUBLIC_KEY_INFO: the last
/// `ek_len` bytes of the SubjectPublicKeyInfo.
fn spki_ek(s: &Sess, o: CK_OBJECT_HANDLE, ek_len: usize) -> Vec<u8> {
    let spki = s.attr_ok(o, CKA_PUBLIC_KEY_INFO);
    spki[spki.len() - ek_len..].to_vec()
}

/// One Wycheproof case through the C ABI: the private key from its seed
/// has the vector's ek (CKA_PUBLIC_KEY_INFO), the public key made from
/// that ek is accepted, and the vector's ciphertext decapsulates to K.
fn wycheproof_case(set: CK_ULONG, ek_len: usize, seed: &str, ek: &str, c: &str, k: &str) {
    let m = Module::start("");
    let s = m.ready();
    let private = ok(private_from_seed(&s, set, &unhex(seed)), "import seed");
    assert_eq!(hex(&spki_ek(&s, private, ek_len)), ek, "ek of the seed");
    let public = ok(public_from_ek(&s, set, &unhex(ek)), "import ek");
    assert_eq!(
        s.attr_ok(public, CKA_PUBLIC_KEY_INFO),
        s.attr_ok(private, CKA_PUBLIC_KEY_INFO)
    );
    let key = ok(
        decapsulate(&s, private, readable(), &unhex(c)),
        "decapsulate",
    );
    assert_eq!(hex(&s.attr_ok(key, CKA_VALUE)), k, "shared secret");
    // And the public key encapsulates to the private one.
    let (ct, k1) = ok(encapsulate(&s, public, readable()), "encapsulate");
    let k2 = ok(decapsulate(&s, private, readable(), &ct), "decapsulate");
    assert_eq!(s.attr_ok(k1, CKA_VALUE), s.attr_ok(k2, CKA_VALUE));
}

#[test]
fn wycheproof_768() {
    wycheproof_case(
        CKP_ML_KEM_768,
        1184,
        WP_768_SEED,
        WP_768_EK,
        WP_768_C,
        WP_768_K,
    );
}

#[test]
fn wycheproof_1024() {
    wycheproof_case(
        CKP_ML_KEM_1024,
        1568,
        WP_1024_SEED,
        WP_1024_EK,
        WP_1024_C,
        WP_1024_K,
    );
}

#[test]
fn wycheproof_512_and_key_history() {
    wycheproof_case(
        CKP_ML_KEM_512,
        800,
        WP_512_SEED,
        WP_512_EK,
        WP_512_C,
        WP_512_K,
    );
}

#[test]
fn wycheproof_decapsulation_512() {
    let m = Module::start("");
    let s = m.ready();
    let private = ok(
        private_from_seed(&s, CKP_ML_KEM_512, &unhex(WP_512_SEED)),
        "import seed",
    );
    assert_eq!(hex(&spki_ek(&s, private, 800)), WP_512_EK);
    let k = ok(
        decapsulate(&s, private, readable(), &unhex(WP_512_C)),
        "decapsulate",
    );
    assert_eq!(hex(&s.attr_ok(k, CKA_VALUE)), WP_512_K);
    assert_eq!(s.attr_ulong(k, CKA_VALUE_LEN), 32);
    // The derived key's history (PKCS#11 3.2 C_DecapsulateKey).
    assert!(!s.attr_bool(k, CKA_LOCAL));
    assert!(!s.attr_bool(k, CKA_ALWAYS_SENSITIVE));
    assert!(!s.attr_bool(k, CKA_NEVER_EXTRACTABLE));
    // The seed is secret material: not readable from a sensitive key.
    err(
        s.attr(private, CKA_SEED),
        CKR_ATTRIBUTE_SENSITIVE,
        "CKA_SEED",
    );
}

#[test]
fn generate_every_set_and_round_trip() {
    let m = Module::start("");
    let s = m.ready();
    for (set, ek_len, ct_len) in [
        (CKP_ML_KEM_512, 800, 768),
        (CKP_ML_KEM_768, 1184, 1088),
        (CKP_ML_KEM_1024, 1568, 1568),
    ] {
        let (public, private) = ok(pair(&s, set, false), "generate");
        assert_eq!(s.attr_ulong(public, CKA_PARAMETER_SET), set);
        assert_eq!(s.attr_ulong(private, CKA_PARAMETER_SET), set);
        assert_eq!(s.attr_ok(public, CKA_VALUE).len(), ek_len);
        assert_eq!(spki_ek(&s, private, ek_len), s.attr_ok(public, CKA_VALUE));
        assert!(s.attr_bool(public, CKA_ENCAPSULATE));
        assert!(s.attr_bool(private, CKA_DECAPSULATE));
        assert!(s.attr_bool(private, CKA_LOCAL));
        assert_eq!(
            s.attr_ulong(private, CKA_KEY_GEN_MECHANISM),
            CKM_ML_KEM_KEY_PAIR_GEN
        );

        // Both ends get the same AES-256 key: one encrypts, the other
        // decrypts.
        let aes = || {
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_AES)
                .bool(CKA_TOKEN, false)
                .bool(CKA_ENCRYPT, true)
                .bool(CKA_DECRYPT, true)
        };
        let (ct, sender) = ok(encapsulate(&s, public, aes()), "encapsulate");
        assert_eq!(ct.len(), ct_len);
        let receiver = ok(decapsulate(&s, private, aes(), &ct), "decapsulate");
        assert_eq!(s.attr_ulong(receiver, CKA_VALUE_LEN), 32);
        // Extractable by default (3.2), not local.
        assert!(s.attr_bool(sender, CKA_EXTRACTABLE));
        assert!(!s.attr_bool(sender, CKA_LOCAL));
        let gcm = Mech::gcm(&[7; 12], b"kem", 128);
        let sealed = ok(s.encrypt_once(&gcm, sender, b"hello ML-KEM"), "encrypt");
        let opened = ok(s.decrypt_once(&gcm, receiver, &sealed), "decrypt");
        assert_eq!(opened, b"hello ML-KEM");

        // An altered ciphertext decapsulates (implicit rejection) to
        // another key.
        let mut bad = ct.clone();
        bad[3] ^= 0x40;
        let other = ok(decapsulate(&s, private, aes(), &bad), "altered");
        err(
            s.decrypt_once(&gcm, other, &sealed),
            CKR_ENCRYPTED_DATA_INVALID,
            "other key",
        );
    }
}

#[test]
fn token_keys_survive_restart() {
    let m = Module::start("");
    let s = m.ready();
    let (public, private) = ok(pair(&s, CKP_ML_KEM_768, true), "generate");
    let ek = s.attr_ok(public, CKA_VALUE);
    let label = |t: Tmpl| {
        t.ulong(CKA_CLASS, CKO_PRIVATE_KEY)
            .ulong(CKA_KEY_TYPE, CKK_ML_KEM)
    };
    let _ = private;
    m.restart();
    let s = open_rw(m.f(), 0);
    ok(s.login(CKU_USER, common::USER_PIN), "login");
    let private = ok(s.find(label(Tmpl::new())), "find")[0];
    // Expanded from the stored seed: the same ek.
    assert_eq!(spki_ek(&s, private, 1184), ek);
    let public = ok(
        s.find(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_KEM),
        ),
        "find",
    )[0];
    let (ct, k1) = ok(encapsulate(&s, public, readable()), "encapsulate");
    let k2 = ok(decapsulate(&s, private, readable(), &ct), "decapsulate");
    assert_eq!(s.attr_ok(k1, CKA_VALUE), s.attr_ok(k2, CKA_VALUE));
}

#[test]
fn seed_sealed_at_rest() {
    // Scans the SQLite file's bytes: the file backend's property (a
    // shared store holds the same sealed rows, tested by its own suites).
    if !common::backend::sqlite() {
        return;
    }
    let m = Module::start("");
    let s = m.ready();
    let seed = unhex(WP_768_SEED);
    let private = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_KEM)
                .ulong(CKA_PARAMETER_SET, CKP_ML_KEM_768)
                .bool(CKA_TOKEN, true)
                // Not private: its other attributes stay in the clear, so
                // only the seed's own rule keeps it sealed.
                .bool(CKA_PRIVATE, false)
                .bytes(CKA_SEED, &seed),
        ),
        "token key from seed",
    );
    assert_eq!(hex(&spki_ek(&s, private, 1184)), WP_768_EK);
    for (path, bytes) in m.file_bytes() {
        assert!(
            !contains(&bytes, &seed[..32]),
            "{} holds the seed in the clear",
            path.display()
        );
    }
    // The scan can see: the public key info (not secret) is in the clear.
    assert!(
        m.file_bytes()
            .iter()
            .any(|(_, b)| contains(b, &unhex(WP_768_EK)[..64])),
        "the ek is in the store"
    );
}

#[test]
fn wrap_and_unwrap_as_pkcs8_seed() {
    let m = Module::start("");
    let s = m.ready();
    let kek = ok(
        s.generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            Tmpl::new()
                .ulong(CKA_VALUE_LEN, 32)
                .bool(CKA_TOKEN, false)
                .bool(CKA_WRAP, true)
                .bool(CKA_UNWRAP, true),
        ),
        "KEK",
    );
    let private = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_KEM)
                .ulong(CKA_PARAMETER_SET, CKP_ML_KEM_1024)
                .bool(CKA_TOKEN, false)
                // The default policy wraps a sensitive key only with a
                // CKA_TRUSTED key (set by the SO); not what this tests.
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_EXTRACTABLE, true)
                .bytes(CKA_SEED, &unhex(WP_1024_SEED)),
        ),
        "import seed",
    );
    let kwp = Mech::new(CKM_AES_KEY_WRAP_KWP);
    let wrapped = ok(s.wrap(&kwp, kek, private), "C_WrapKey");
    // PKCS#8 of the seed choice is 86 bytes; KWP pads to 88 and adds 8.
    assert_eq!(wrapped.len(), 96);
    let template = || {
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
            .ulong(CKA_KEY_TYPE, CKK_ML_KEM)
            .bool(CKA_TOKEN, false)
    };
    let back = ok(s.unwrap(&kwp, kek, &wrapped, template()), "C_UnwrapKey");
    assert_eq!(s.attr_ulong(back, CKA_PARAMETER_SET), CKP_ML_KEM_1024);
    assert!(s.attr_bool(back, CKA_DECAPSULATE));
    assert_eq!(hex(&spki_ek(&s, back, 1568)), WP_1024_EK);
    let k = ok(
        decapsulate(&s, back, readable(), &unhex(WP_1024_C)),
        "decapsulate with the unwrapped key",
    );
    assert_eq!(hex(&s.attr_ok(k, CKA_VALUE)), WP_1024_K);
    // The encoding says the key type: another one in the template is
    // inconsistent.
    err(
        s.unwrap(
            &kwp,
            kek,
            &wrapped,
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_EC)
                .bool(CKA_TOKEN, false),
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "EC template for an ML-KEM key",
    );
}

/// CKA_VALUE of a private key is the expanded dk, computed from the seed
/// (the token keeps the seed only), hidden like any secret when the key
/// is sensitive, and accepted back on import together with the seed.
#[test]
fn private_value_is_the_expanded_key() {
    let m = Module::start("");
    let s = m.ready();
    let seed = unhex(WP_768_SEED);
    let open = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_KEM)
                .ulong(CKA_PARAMETER_SET, CKP_ML_KEM_768)
                .bool(CKA_TOKEN, false)
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_EXTRACTABLE, true)
                .bytes(CKA_SEED, &seed),
        ),
        "readable key",
    );
    let dk = s.attr_ok(open, CKA_VALUE);
    // FIPS 203: dk = dk_pke || ek || H(ek) || z (2400 bytes for 768).
    assert_eq!(dk.len(), 2400);
    assert_eq!(hex(&dk[1152..1152 + 1184]), WP_768_EK);
    assert_eq!(&dk[2400 - 32..], &seed[32..], "z ends dk");
    let both = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_KEM)
                .ulong(CKA_PARAMETER_SET, CKP_ML_KEM_768)
                .bool(CKA_TOKEN, false)
                .bytes(CKA_SEED, &seed)
                .bytes(CKA_VALUE, &dk),
        ),
        "seed and its dk",
    );
    err(
        s.attr(both, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
        "sensitive dk",
    );
    let k = ok(
        decapsulate(&s, both, readable(), &unhex(WP_768_C)),
        "decapsulate",
    );
    assert_eq!(hex(&s.attr_ok(k, CKA_VALUE)), WP_768_K);
}

/// A nested template's CK_ATTRIBUTE array bytes (what an outer
/// attribute's pValue points to), with the values it points into.
fn nested(entries: &mut [(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Vec<u8> {
    let raw: Vec<CK_ATTRIBUTE> = entries
        .iter_mut()
        .map(|(ty, v)| CK_ATTRIBUTE {
            type_: *ty,
            pValue: v.as_mut_ptr().cast(),
            ulValueLen: ulong(v.len()),
        })
        .collect();
    // SAFETY: reading our own initialized array (two CK_ULONG fields
    // around a pointer: no padding on this target).
    unsafe {
        std::slice::from_raw_parts(
            raw.as_ptr().cast::<u8>(),
            raw.len() * std::mem::size_of::<CK_ATTRIBUTE>(),
        )
    }
    .to_vec()
}

/// CKA_ENCAPSULATE_TEMPLATE / CKA_DECAPSULATE_TEMPLATE join the caller's
/// template; a conflict is CKR_KEY_HANDLE_INVALID on encapsulation and
/// CKR_TEMPLATE_INCONSISTENT on decapsulation (PKCS#11 3.2 §5.18).
#[test]
fn encapsulate_and_decapsulate_templates() {
    let m = Module::start("");
    let s = m.ready();
    let mut locked = vec![(CKA_EXTRACTABLE, vec![CK_FALSE])];
    let inner = nested(&mut locked);
    let (public, private) = ok(
        s.generate_pair(
            &Mech::new(CKM_ML_KEM_KEY_PAIR_GEN),
            Tmpl::new()
                .ulong(CKA_PARAMETER_SET, CKP_ML_KEM_512)
                .bool(CKA_TOKEN, false)
                .bytes(CKA_ENCAPSULATE_TEMPLATE, &inner),
            Tmpl::new()
                .bool(CKA_TOKEN, false)
                .bytes(CKA_DECAPSULATE_TEMPLATE, &inner),
        ),
        "pair with templates",
    );
    let plain = || {
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
            .bool(CKA_TOKEN, false)
    };
    let (ct, k1) = ok(encapsulate(&s, public, plain()), "encapsulate");
    assert!(!s.attr_bool(k1, CKA_EXTRACTABLE), "the key's template wins");
    let k2 = ok(decapsulate(&s, private, plain(), &ct), "decapsulate");
    assert!(!s.attr_bool(k2, CKA_EXTRACTABLE));
    err(
        encapsulate(&s, public, plain().bool(CKA_EXTRACTABLE, true)),
        CKR_KEY_HANDLE_INVALID,
        "conflict with CKA_ENCAPSULATE_TEMPLATE",
    );
    err(
        decapsulate(&s, private, plain().bool(CKA_EXTRACTABLE, true), &ct),
        CKR_TEMPLATE_INCONSISTENT,
        "conflict with CKA_DECAPSULATE_TEMPLATE",
    );
    drop(locked);
}

#[test]
fn mechanism_info() {
    let m = Module::start("");
    let s = m.ready();
    let pair_gen = ok(s.mechanism_info(0, CKM_ML_KEM_KEY_PAIR_GEN), "info");
    assert_eq!(pair_gen.flags, CKF_GENERATE_KEY_PAIR);
    assert_eq!(
        (pair_gen.ulMinKeySize, pair_gen.ulMaxKeySize),
        (800, 1568),
        "ek bytes"
    );
    let kem = ok(s.mechanism_info(0, CKM_ML_KEM), "info");
    assert_eq!(kem.flags, CKF_ENCAPSULATE | CKF_DECAPSULATE);
    assert_eq!((kem.ulMinKeySize, kem.ulMaxKeySize), (800, 1568));
    let list = ok(s.mechanism_list(0), "list");
    assert!(list.contains(&CKM_ML_KEM) && list.contains(&CKM_ML_KEM_KEY_PAIR_GEN));
}

#[test]
fn length_query_and_short_buffer_make_no_key() {
    let m = Module::start("");
    let s = m.ready();
    let (public, _) = ok(pair(&s, CKP_ML_KEM_768, false), "generate");
    let count = |s: &Sess| ok(s.find(Tmpl::new().ulong(CKA_CLASS, CKO_SECRET_KEY)), "find").len();
    let before = count(&s);
    // NULL ciphertext: the length, CKR_OK, no key.
    let mut ck = Mech::new(CKM_ML_KEM).ck();
    let mut t = readable();
    let (tp, tn) = t.as_mut();
    let mut len: CK_ULONG = 0;
    let mut key = CK_INVALID_HANDLE;
    let f = f32().C_EncapsulateKey.expect("C_EncapsulateKey");
    // SAFETY: owned locals; NULL ciphertext asks for the length.
    let r = unsafe {
        f(
            s.h,
            &mut ck,
            public,
            tp,
            tn,
            ptr::null_mut(),
            &mut len,
            &mut key,
        )
    };
    assert_eq!(r, CKR_OK);
    assert_eq!(len, 1088);
    assert_eq!(key, CK_INVALID_HANDLE);
    // A short buffer: CKR_BUFFER_TOO_SMALL with the length, no key.
    let r = encapsulate_into(&s, &Mech::new(CKM_ML_KEM), public, readable(), 1087);
    err(r, CKR_BUFFER_TOO_SMALL, "short buffer");
    assert_eq!(count(&s), before, "no key was made");
    // NULL length pointer.
    // SAFETY: NULL pulCiphertextLen is the case under test.
    let r = unsafe {
        f(
            s.h,
            &mut ck,
            public,
            tp,
            tn,
            ptr::null_mut(),
            ptr::null_mut(),
            &mut key,
        )
    };
    assert_eq!(r, CKR_ARGUMENTS_BAD);
}

#[test]
fn refusals() {
    let m = Module::start("");
    let s = m.ready();
    let (public, private) = ok(pair(&s, CKP_ML_KEM_512, false), "generate");
    let (ct, _) = ok(encapsulate(&s, public, readable()), "encapsulate");

    // Wrong ciphertext length.
    err(
        decapsulate(&s, private, readable(), &ct[1..]),
        CKR_WRAPPED_KEY_LEN_RANGE,
        "short ciphertext",
    );
    err(
        decapsulate(&s, private, readable(), &[ct.clone(), vec![0]].concat()),
        CKR_WRAPPED_KEY_LEN_RANGE,
        "long ciphertext",
    );
    // The wrong half of the pair.
    err(
        encapsulate(&s, private, readable()),
        CKR_KEY_TYPE_INCONSISTENT,
        "a private key cannot encapsulate",
    );
    err(
        decapsulate(&s, public, readable(), &ct),
        CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
        "a public key cannot decapsulate",
    );
    // A key of another type, allowed the use.
    let (ec_pub, _) = ok(
        ec(
            &s,
            &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            "p256",
            false,
            |t| t,
        ),
        "P-256",
    );
    err(
        encapsulate(&s, ec_pub, readable()),
        CKR_KEY_TYPE_INCONSISTENT,
        "an EC key cannot encapsulate",
    );
    // CKA_ENCAPSULATE switched off.
    ok(
        s.set_attr(public, Tmpl::new().bool(CKA_ENCAPSULATE, false)),
        "set CKA_ENCAPSULATE false",
    );
    err(
        encapsulate(&s, public, readable()),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "CKA_ENCAPSULATE false",
    );
    ok(
        s.set_attr(public, Tmpl::new().bool(CKA_ENCAPSULATE, true)),
        "set back",
    );
    // Another mechanism through C_EncapsulateKey.
    err(
        encapsulate_into(&s, &Mech::new(CKM_SHA256_HMAC), public, readable(), 4096),
        CKR_MECHANISM_INVALID,
        "HMAC is no KEM",
    );
    // A bad handle: plain for encapsulation, the unwrapping code for
    // decapsulation (C_DecapsulateKey's list).
    err(
        encapsulate(&s, 0xdead, readable()),
        CKR_KEY_HANDLE_INVALID,
        "bad handle",
    );
    err(
        decapsulate(&s, 0xdead, readable(), &ct),
        CKR_UNWRAPPING_KEY_HANDLE_INVALID,
        "bad handle",
    );
    // A template the 32-byte secret cannot meet.
    err(
        encapsulate(&s, public, readable().ulong(CKA_VALUE_LEN, 48)),
        CKR_TEMPLATE_INCONSISTENT,
        "48-byte key",
    );
    // A shorter key takes the secret's leading bytes, on both sides (an
    // AES-128 key, as python-pkcs11's suite asks).
    let (ct16, k16) = ok(
        encapsulate(&s, public, readable().ulong(CKA_VALUE_LEN, 16)),
        "16-byte key",
    );
    let d16 = ok(
        decapsulate(&s, private, readable().ulong(CKA_VALUE_LEN, 16), &ct16),
        "16-byte key decapsulated",
    );
    let full = ok(
        decapsulate(&s, private, readable(), &ct16),
        "the whole secret",
    );
    let v16 = s.attr_ok(k16, CKA_VALUE);
    assert_eq!(v16.len(), 16);
    assert_eq!(v16, s.attr_ok(d16, CKA_VALUE));
    assert_eq!(v16, s.attr_ok(full, CKA_VALUE)[..16]);
    err(
        encapsulate(&s, public, readable().bytes(CKA_VALUE, &[0; 32])),
        CKR_ATTRIBUTE_READ_ONLY,
        "CKA_VALUE in the template",
    );
    // Generation: the parameter set is required and must be known.
    err(
        s.generate_pair(
            &Mech::new(CKM_ML_KEM_KEY_PAIR_GEN),
            Tmpl::new().bool(CKA_TOKEN, false),
            Tmpl::new().bool(CKA_TOKEN, false),
        ),
        CKR_TEMPLATE_INCOMPLETE,
        "no parameter set",
    );
    err(
        pair(&s, 4, false),
        CKR_PARAMETER_SET_NOT_SUPPORTED,
        "unknown parameter set",
    );
    // The private template may repeat the set (as for ML-DSA), not
    // contradict it.
    ok(
        s.generate_pair(
            &Mech::new(CKM_ML_KEM_KEY_PAIR_GEN),
            Tmpl::new().ulong(CKA_PARAMETER_SET, CKP_ML_KEM_512),
            Tmpl::new().ulong(CKA_PARAMETER_SET, CKP_ML_KEM_512),
        ),
        "the same parameter set in the private template",
    );
    err(
        s.generate_pair(
            &Mech::new(CKM_ML_KEM_KEY_PAIR_GEN),
            Tmpl::new().ulong(CKA_PARAMETER_SET, CKP_ML_KEM_512),
            Tmpl::new().ulong(CKA_PARAMETER_SET, CKP_ML_KEM_768),
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "another parameter set in the private template",
    );
    // Import: seed length, ek validity, a dk that is not the seed's.
    err(
        private_from_seed(&s, CKP_ML_KEM_512, &[1; 63]),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "63-byte seed",
    );
    err(
        public_from_ek(&s, CKP_ML_KEM_512, &[0xff; 800]),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "ek out of range",
    );
    err(
        public_from_ek(&s, CKP_ML_KEM_768, &unhex(WP_512_EK)),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "512 ek as 768",
    );
    err(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_KEM)
                .ulong(CKA_PARAMETER_SET, CKP_ML_KEM_512)
                .bool(CKA_TOKEN, false)
                .bytes(CKA_SEED, &unhex(WP_512_SEED))
                .bytes(CKA_VALUE, &[0; 1632]),
        ),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "dk not of the seed",
    );
    err(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_KEM)
                .ulong(CKA_PARAMETER_SET, CKP_ML_KEM_512)
                .bool(CKA_TOKEN, false)
                .bytes(CKA_VALUE, &[0; 1632]),
        ),
        CKR_TEMPLATE_INCOMPLETE,
        "dk without the seed",
    );
}
