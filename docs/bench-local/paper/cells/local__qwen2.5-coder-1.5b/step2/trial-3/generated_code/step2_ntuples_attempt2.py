import os
import sys
import uproot
import awkward as ak

# Define the input and output paths
input_paths = [
    "data/GamGam/Data/data_A.GamGam.root",
    "data/GamGam/Data/data_B.GamGam.root",
    "data/GamGam/Data/data_C.GamGam.root",
    "data/GamGam/Data/data_D.GamGam.root",
    "data/GamGam/MC/mc_343981.ggH125_gamgam.GamGam.root",
    "data/GamGam/MC/mc_345041.VBFH125_gamgam.GamGam.root",
    "data/GamGam/MC/mc_345318.WpH125J_Wincl_gamgam.GamGam.root",
    "data/GamGam/MC/mc_345319.ZH125J_Zincl_gamgam.GamGam.root",
    "data/GamGam/MC/mc_341081.ttH125_gamgam.GamGam.root"
]
output_paths = [
    "outputs/ntuples/data_A.npy",
    "outputs/ntuples/data_B.npy",
    "outputs/ntuples/data_C.npy",
    "outputs/ntuples/data_D.npy",
    "outputs/ntuples/mc_343981.ggH125_gamgam.npy",
    "outputs/ntuples/mc_345041.VBFH125_gamgam.npy",
    "outputs/ntuples/mc_345318.WpH125J_Wincl_gamgam.npy",
    "outputs/ntuples/mc_345319.ZH125J_Zincl_gamgam.npy",
    "outputs/ntuples/mc_341081.ttH125_gamgam.npy"
]

# Create the output directories if they do not exist
for path in output_paths:
    os.makedirs(path, exist_ok=True)

# Loop over each input file
for input_path, output_path in zip(input_paths, output_paths):
    try:
        # Open the ROOT file
        with uproot.open(input_path) as file:
            # Get the TTree
            tree = file["mini"]
            
            # Extract the branches
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
            
            # Create the output array
            output_array = ak.Array([
                photon1_pt[0] * 0.001,
                photon1_eta[0],
                photon1_phi[0],
                photon2_pt[0] * 0.001,
                photon2_eta[0],
                photon2_phi[0],
                lep1_pt[0] * 0.001,
                lep1_eta[0],
                lep1_phi[0],
                lep2_pt[0] * 0.001,
                lep2_eta[0],
                lep2_phi[0],
                jet1_pt[0] * 0.001,
                jet1_eta[0],
                jet1_phi[0],
                jet2_pt[0] * 0.001,
                jet2_eta[0],
                jet2_phi[0],
                jet3_pt[0] * 0.001,
                jet3_eta[0],
                jet3_phi[0],
                jet4_pt[0] * 0.001,
                jet4_eta[0],
                jet4_phi[0],
                jet5_pt[0] * 0.001,
                jet5_eta[0],
                jet5_phi[0],
                jet6_pt[0] * 0.001,
                jet6_eta[0],
                jet6_phi[0],
                met_et[0] * 0.001,
                met_phi[0],
                mcWeight[0],
                scaleFactor_PHOTON[0],
                scaleFactor_PhotonTRIGGER[0],
                scaleFactor_PILEUP[0],
                XSection[0],
                SumWeights[0],
                ak.num(photon1_pt) > 0,
                ak.num(photon2_pt) > 0,
                ak.num(lep1_pt) > 0,
                ak.num(lep2_pt) > 0,
                ak.num(jet1_pt) > 0,
                ak.num(jet2_pt) > 0,
                ak.num(jet3_pt) > 0,
                ak.num(jet4_pt) > 0,
                ak.num(jet5_pt) > 0,
                ak.num(jet6_pt) > 0,
                ak.num(photon1_isTightID) > 0,
                ak.num(photon2_isTightID) > 0,
                ak.num(photon1_ptcone30) > 0,
                ak.num(photon2_ptcone30) > 0,
                ak.num(photon1_etcone20) > 0,
                ak.num(photon2_etcone20) > 0,
                ak.num(trigP) > 0,
                ak.num(photon_n) > 0
            ], dtype=float64)
            
            # Save the output array
            ak.save(output_array, output_path)
            
            # Print progress message
            print(f"Processed {input_path} -> {output_path}")
    except Exception as e:
        print(f"Error processing {input_path}: {e}")
        sys.exit(1)
