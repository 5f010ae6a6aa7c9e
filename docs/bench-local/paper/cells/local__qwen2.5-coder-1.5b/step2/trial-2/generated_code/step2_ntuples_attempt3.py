import os
import sys
import uproot
import awkward as ak

def load_root_file(file_path):
    with uproot.open(file_path) as file:
        mini_tree = file["mini"]
        return mini_tree

def process_tree(tree):
    photon_pt = tree["photon_pt"].array()
    photon_eta = tree["photon_eta"].array()
    photon_phi = tree["photon_phi"].array()
    lep1_pt = tree["lep_pt"].array()
    lep1_eta = tree["lep_eta"].array()
    lep1_phi = tree["lep_phi"].array()
    lep2_pt = tree["lep_pt"].array()
    lep2_eta = tree["lep_eta"].array()
    lep2_phi = tree["lep_phi"].array()
    jet1_pt = tree["jet_pt"].array()
    jet1_eta = tree["jet_eta"].array()
    jet1_phi = tree["jet_phi"].array()
    jet2_pt = tree["jet_pt"].array()
    jet2_eta = tree["jet_eta"].array()
    jet2_phi = tree["jet_phi"].array()
    jet3_pt = tree["jet_pt"].array()
    jet3_eta = tree["jet_eta"].array()
    jet3_phi = tree["jet_phi"].array()
    jet4_pt = tree["jet_pt"].array()
    jet4_eta = tree["jet_eta"].array()
    jet4_phi = tree["jet_phi"].array()
    jet5_pt = tree["jet_pt"].array()
    jet5_eta = tree["jet_eta"].array()
    jet5_phi = tree["jet_phi"].array()
    jet6_pt = tree["jet_pt"].array()
    jet6_eta = tree["jet_eta"].array()
    jet6_phi = tree["jet_phi"].array()
    met_et = tree["met_et"].array()
    met_phi = tree["met_phi"].array()
    mcWeight = tree["mcWeight"].array()
    scaleFactor_PHOTON = tree["scaleFactor_PHOTON"].array()
    scaleFactor_PhotonTRIGGER = tree["scaleFactor_PhotonTRIGGER"].array()
    scaleFactor_PILEUP = tree["scaleFactor_PILEUP"].array()
    XSection = tree["XSection"].array()
    SumWeights = tree["SumWeights"].array()
    photon1_isTightID = tree["photon_isTightID"].array()
    photon2_isTightID = tree["photon_isTightID"].array()
    photon1_ptcone30 = tree["photon_ptcone30"].array()
    photon2_ptcone30 = tree["photon_ptcone30"].array()
    photon1_etcone20 = tree["photon_etcone20"].array()
    photon2_etcone20 = tree["photon_etcone20"].array()
    trigP = tree["trigP"].array()
    photon_n = tree["photon_n"].array()

    # Convert to GeV
    photon_pt *= 0.001
    photon2_pt *= 0.001
    lep1_pt *= 0.001
    lep2_pt *= 0.001
    jet1_pt *= 0.001
    jet2_pt *= 0.001
    jet3_pt *= 0.001
    jet4_pt *= 0.001
    jet5_pt *= 0.001
    jet6_pt *= 0.001
    met_et *= 0.001

    # Convert to boolean
    photon1_isTightID = ak.to_numpy(photon1_isTightID, np.bool_)
    photon2_isTightID = ak.to_numpy(photon2_isTightID, np.bool_)

    # Convert to float
    photon1_ptcone30 = ak.to_numpy(photon1_ptcone30, np.float_)
    photon2_ptcone30 = ak.to_numpy(photon2_ptcone30, np.float_)
    photon1_etcone20 = ak.to_numpy(photon1_etcone20, np.float_)
    photon2_etcone20 = ak.to_numpy(photon2_etcone20, np.float_)

    # Convert to boolean
    trigP = ak.to_numpy(trigP, np.bool_)

    # Convert to int
    photon_n = ak.to_numpy(photon_n, np.int_)

    return {
        "photon1_pt": photon1_pt,
        "photon1_eta": photon1_eta,
        "photon1_phi": photon1_phi,
        "photon2_pt": photon2_pt,
        "photon2_eta": photon2_eta,
        "photon2_phi": photon2_phi,
        "lep1_pt": lep1_pt,
        "lep1_eta": lep1_eta,
        "lep1_phi": lep1_phi,
        "lep2_pt": lep2_pt,
        "lep2_eta": lep2_eta,
        "lep2_phi": lep2_phi,
        "jet1_pt": jet1_pt,
        "jet1_eta": jet1_eta,
        "jet1_phi": jet1_phi,
        "jet2_pt": jet2_pt,
        "jet2_eta": jet2_eta,
        "jet2_phi": jet2_phi,
        "jet3_pt": jet3_pt,
        "jet3_eta": jet3_eta,
        "jet3_phi": jet3_phi,
        "jet4_pt": jet4_pt,
        "jet4_eta": jet4_eta,
        "jet4_phi": jet4_phi,
        "jet5_pt": jet5_pt,
        "jet5_eta": jet5_eta,
        "jet5_phi": jet5_phi,
        "jet6_pt": jet6_pt,
        "jet6_eta": jet6_eta,
        "jet6_phi": jet6_phi,
        "met_et": met_et,
        "met_phi": met_phi,
        "mcWeight": mcWeight,
        "scaleFactor_PHOTON": scaleFactor_PHOTON,
        "scaleFactor_PhotonTRIGGER": scaleFactor_PhotonTRIGGER,
        "scaleFactor_PILEUP": scaleFactor_PILEUP,
        "XSection": XSection,
        "SumWeights": SumWeights,
        "photon1_isTightID": photon1_isTightID,
        "photon2_isTightID": photon2_isTightID,
        "photon1_ptcone30": photon1_ptcone30,
        "photon2_ptcone30": photon2_ptcone30,
        "photon1_etcone20": photon1_etcone20,
        "photon2_etcone20": photon2_etcone20,
        "trigP": trigP,
        "photon_n": photon_n
    }

def main():
    input_dir = "data/GamGam/Data"
    output_dir = "outputs/ntuples"
    os.makedirs(output_dir, exist_ok=True)

    for file_name in os.listdir(input_dir):
        if file_name.endswith(".GamGam.root"):
            file_path = os.path.join(input_dir, file_name)
            tree = load_root_file(file_path)
            processed_data = process_tree(tree)
            output_file_path = os.path.join(output_dir, file_name.replace(".GamGam.root", ".npy"))
            np.save(output_file_path, processed_data)

if __name__ == "__main__":
    main()
